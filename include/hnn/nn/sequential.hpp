// Sequential: a container that runs its children in order, built from modules by value
// (Sequential{Linear(784, 256), ReLU()}), with push_back, operator[], typed get<M>(i) and size().
// Depends on nn/module.hpp.
#pragma once

#include <memory>
#include <type_traits>

#include "hnn/nn/module.hpp"

namespace hnn::nn {

template <class T = float, class D = CPU>
class Sequential : public Cloneable<Sequential<T, D>, T, D> {
 public:
  using Base = Module<T, D>;
  Sequential() = default;

  /// Takes each module by value; children are named "0", "1", ... as in PyTorch.
  template <class... Ms, class = std::enable_if_t<
                             (sizeof...(Ms) > 0) && (std::is_base_of_v<Base, std::decay_t<Ms>> && ...) &&
                             !(sizeof...(Ms) == 1 && (std::is_same_v<std::decay_t<Ms>, Sequential> && ...))>>
  Sequential(Ms&&... modules) {  // NOLINT: brace construction from modules
    (push_back(std::forward<Ms>(modules)), ...);
  }

  template <class M, class = std::enable_if_t<std::is_base_of_v<Base, std::decay_t<M>>>>
  void push_back(M&& module) {
    push_back_ptr(std::make_shared<std::decay_t<M>>(std::forward<M>(module)));
  }
  void push_back_ptr(std::shared_ptr<Base> module) {
    this->register_module(std::to_string(this->named_children().size()), std::move(module));
  }

  Tensor<T, D> forward(const Tensor<T, D>& input) override {
    Tensor<T, D> x = input;
    for (auto& [name, child] : this->named_children()) {
      autograd::AnomalyForwardScope scope(name);  // the child's key in anomaly reports ("Sequential/2/ReLU")
      x = (*child)(x);
    }
    return x;
  }

  size_t size() const { return this->named_children().size(); }
  bool empty() const { return size() == 0; }
  Base& operator[](size_t i) const { return *ptr(i); }
  std::shared_ptr<Base> ptr(size_t i) const {
    HNN_CHECK(i < size(), "index ", i, " is out of range for a Sequential of ", size(), " modules");
    return this->named_children()[i].second;
  }
  /// The i-th module as its concrete type; throws when it is another type.
  template <class M>
  M& get(size_t i) const {
    auto* m = dynamic_cast<M*>(ptr(i).get());
    HNN_CHECK(m != nullptr, "module ", i, " of the Sequential is a ", ptr(i)->name(),
              ", not the requested type");
    return *m;
  }
  auto begin() const { return this->named_children().begin(); }
  auto end() const { return this->named_children().end(); }

  std::string name() const override { return "Sequential"; }
};

}  // namespace hnn::nn
