// Flatten(start_dim = 1, end_dim = -1): merges dimensions start_dim..end_dim into one (a view when the
// input is contiguous), as torch.nn.Flatten. Depends on nn/module.hpp, hnn/tensor.hpp.
#pragma once

#include <string>

#include "hnn/nn/module.hpp"
#include "hnn/tensor.hpp"

namespace hnn::nn {

template <class T = float, class D = CPU>
class Flatten : public Cloneable<Flatten<T, D>, T, D> {
 public:
  /// The module's default start_dim is 1 (keep the batch dimension), unlike torch.flatten's 0.
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim_(start_dim), end_dim_(end_dim) {}

  Tensor<T, D> forward(const Tensor<T, D>& input) override { return input.flatten(start_dim_, end_dim_); }

  int64_t start_dim() const { return start_dim_; }
  int64_t end_dim() const { return end_dim_; }
  std::string name() const override { return "Flatten"; }
  std::string extra_repr() const override {
    return "start_dim=" + std::to_string(start_dim_) + ", end_dim=" + std::to_string(end_dim_);
  }

 private:
  int64_t start_dim_, end_dim_;
};

}  // namespace hnn::nn
