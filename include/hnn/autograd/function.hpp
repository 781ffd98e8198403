// Typed graph nodes and the helpers ops use to record themselves: an op computes its output, then calls
// record(name, out, {inputs...}, backward) with a closure mapping the output gradient to input gradients
// (micrograd's shape: forward and backward side by side). Leaves get an AccumulateGrad node.
// Depends on tensor/tensor.hpp and autograd/node.hpp.
#pragma once

#include <cmath>
#include <functional>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "hnn/autograd/grad_mode.hpp"
#include "hnn/autograd/node.hpp"
#include "hnn/tensor/tensor.hpp"

namespace hnn {
template <class T, class D>
Tensor<T, D> add_for_accumulation(const Tensor<T, D>& a, const Tensor<T, D>& b);
template <class T, class D>
void add_inplace_for_accumulation(Tensor<T, D>& dst, const Tensor<T, D>& src);
}  // namespace hnn

namespace hnn::autograd {

/// A node whose output is a Tensor<T, D>: it accumulates the incoming gradient of that type.
template <class T, class D>
class TypedNode : public Node {
 public:
  bool has_grad() const override { return grad_.defined(); }
  void clear_grad() override { grad_ = Tensor<T, D>(); }
  void accumulate(const Tensor<T, D>& g) {
    if (!grad_.defined())
      grad_ = g;
    else
      grad_ = add_for_accumulation(grad_, g);
  }

 protected:
  Tensor<T, D> grad_;
};

/// Adds arriving gradients into a leaf tensor's .grad (in place once it exists, so optimisers that
/// hold the grad tensor see the update), as PyTorch's AccumulateGrad does.
template <class T, class D>
class AccumulateGrad final : public TypedNode<T, D> {
 public:
  explicit AccumulateGrad(std::shared_ptr<hnn::detail::TensorImpl<T, D>> leaf) : leaf_(std::move(leaf)) {}
  const char* name() const override { return "AccumulateGrad"; }
  void apply() override {
    if (!leaf_->grad) {
      leaf_->grad = this->grad_.clone().impl_ptr();  // the leaf owns its gradient's storage
    } else {
      Tensor<T, D> existing(leaf_->grad);
      add_inplace_for_accumulation(existing, this->grad_);
    }
    // Copied first: a hook may register or remove hooks.
    if (!leaf_->post_accumulate_grad_hooks.empty())
      for (auto& [id, hook] : std::vector(leaf_->post_accumulate_grad_hooks)) hook();
  }
  void release_saved() override {}

 private:
  std::shared_ptr<hnn::detail::TensorImpl<T, D>> leaf_;
};

/// The node of an ordinary op: its backward closure maps grad_output to one gradient per input
/// (an undefined tensor where the input needs none).
template <class T, class D>
class FunctionNode final : public TypedNode<T, D> {
 public:
  using BackwardFn = std::function<std::vector<Tensor<T, D>>(const Tensor<T, D>& grad_output,
                                                             const std::vector<bool>& needs)>;

  FunctionNode(const char* name, BackwardFn fn) : name_(name), fn_(std::move(fn)) {}
  const char* name() const override { return name_; }

  void apply() override {
    const bool anomaly = detail::anomaly_mode_flag();  // the one check per node when anomaly mode is off
    HNN_CHECK_RUNTIME(
        !this->released_, "Trying to backward through the graph a second time (or directly access ",
        "saved tensors after they have already been freed): ", name_,
        " was already used by an earlier backward(); call backward(grad, /*retain_graph=*/true) "
        "the first time if you need to backward twice",
        anomaly ? creation_note() : std::string());
    std::vector<bool> needs(this->next_edges.size());
    for (size_t i = 0; i < needs.size(); ++i) needs[i] = this->next_edges[i] != nullptr;
    std::vector<Tensor<T, D>> grads = anomaly ? run_noting_creation(needs) : fn_(this->grad_, needs);
    const bool check_nan = anomaly && AnomalyMode::should_check_nan();
    for (size_t i = 0; i < this->next_edges.size() && i < grads.size(); ++i) {
      if (!this->next_edges[i] || !grads[i].defined()) continue;
      if (check_nan) check_finite(grads[i], i);
      static_cast<TypedNode<T, D>*>(this->next_edges[i].get())->accumulate(grads[i]);
    }
  }
  void release_saved() override {
    fn_ = nullptr;
    this->released_ = true;
  }

 private:
  // torch's wording ("Function 'SqrtBackward0' returned nan values in its 0th output."), then which input
  // that gradient is for and where the forward op was created.
  void check_finite(const Tensor<T, D>& g, size_t input_index) const {
    const std::vector<T> values = g.to_vector();
    for (size_t k = 0; k < values.size(); ++k) {
      const double v = static_cast<double>(values[k]);
      if (std::isfinite(v)) continue;
      throw std::runtime_error(hnn::detail::concat(
          "Function '", name_, "' returned ", std::isnan(v) ? "nan" : "inf", " values in its ", input_index,
          "th output (the gradient for input ", input_index, " of shape ", g.shape(),
          ", first at flat index ", k, ")", creation_note()));
    }
  }
  std::string creation_note() const {
    if (this->creation_context.empty())
      return "; the forward op was created before anomaly detection was enabled, so its origin is unknown";
    return "; the forward op was " + this->creation_context;
  }
  // Errors thrown by the backward closure get the same note (torch prints the forward traceback then).
  std::vector<Tensor<T, D>> run_noting_creation(const std::vector<bool>& needs) {
    try {
      return fn_(this->grad_, needs);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(hnn::detail::concat("in ", name_, ": ", e.what(), creation_note()));
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(hnn::detail::concat("in ", name_, ": ", e.what(), creation_note()));
    }
  }

  const char* name_;
  BackwardFn fn_;
};

/// The edge an op's output links to for input t: its grad_fn, its leaf accumulator, or null.
template <class T, class D>
std::shared_ptr<Node> edge_for(const Tensor<T, D>& t) {
  if (!t.requires_grad()) return nullptr;
  auto* impl = t.unsafe_impl();
  if (impl->grad_fn) return impl->grad_fn;
  if (auto acc = impl->grad_accumulator.lock()) return acc;
  auto acc = std::make_shared<AccumulateGrad<T, D>>(t.impl_ptr());
  impl->grad_accumulator = acc;
  return acc;
}

/// Anomaly mode: notes where `node` was created in its creation_context, e.g. "op #7 (Sqrt) in
/// Sequential/2/Linear, on inputs of shape [4, 3]; its forward output already held nan or inf values".
/// Ops that build their node by hand call it under `if (detail::anomaly_mode_flag())`, as record() does.
template <class T, class D, class Inputs>
void note_creation(Node& node, const Tensor<T, D>& out, const Inputs& inputs) {
  auto& state = detail::anomaly_state();
  std::string op = node.name();
  if (const auto cut = op.rfind("Backward"); cut != std::string::npos) op.resize(cut);
  std::string shapes;
  for (const auto& in : inputs)
    if (in.defined()) shapes += (shapes.empty() ? "" : ", ") + in.shape().str();
  const std::string scope = detail::forward_scope_path();
  bool finite = true;
  if constexpr (is_cpu_v<D>) {
    for (T v : out.to_vector()) finite = finite && std::isfinite(static_cast<double>(v));
  }
  node.creation_context = hnn::detail::concat(
      "op #", ++state.ops_recorded, " (", op, ") ", scope.empty() ? "called at top level" : "in " + scope,
      ", on inputs of shape ", shapes, finite ? "" : "; its forward output already held nan or inf values");
}

/// True when grad mode is on and any input requires grad: the op must record itself.
template <class... Ts>
bool any_requires_grad(const Ts&... inputs) {
  return is_grad_enabled() && (... || inputs.requires_grad());
}

/// Links `out` into the graph as the result of an op over `inputs` with the given backward closure.
template <class T, class D>
void record(const char* name, Tensor<T, D>& out, std::initializer_list<Tensor<T, D>> inputs,
            typename FunctionNode<T, D>::BackwardFn backward) {
  auto node = std::make_shared<FunctionNode<T, D>>(name, std::move(backward));
  node->next_edges.reserve(inputs.size());
  for (const auto& in : inputs) node->next_edges.push_back(in.defined() ? edge_for(in) : nullptr);
  if (detail::anomaly_mode_flag()) note_creation(*node, out, inputs);
  out.unsafe_impl()->grad_fn = std::move(node);
  out.unsafe_impl()->requires_grad = true;
}

}  // namespace hnn::autograd
