// Activation modules: ReLU, Sigmoid, Tanh, Softmax(dim), LogSoftmax(dim), thin wrappers over the
// element-wise and softmax ops, with PyTorch's reprs. Depends on nn/module.hpp, hnn/tensor.hpp.
#pragma once

#include <string>

#include "hnn/nn/module.hpp"
#include "hnn/tensor.hpp"

namespace hnn::nn {

/// max(0, x).
template <class T = float, class D = CPU>
class ReLU : public Cloneable<ReLU<T, D>, T, D> {
 public:
  Tensor<T, D> forward(const Tensor<T, D>& input) override { return input.relu(); }
  std::string name() const override { return "ReLU"; }
};

/// 1 / (1 + exp(-x)).
template <class T = float, class D = CPU>
class Sigmoid : public Cloneable<Sigmoid<T, D>, T, D> {
 public:
  Tensor<T, D> forward(const Tensor<T, D>& input) override { return input.sigmoid(); }
  std::string name() const override { return "Sigmoid"; }
};

/// tanh(x).
template <class T = float, class D = CPU>
class Tanh : public Cloneable<Tanh<T, D>, T, D> {
 public:
  Tensor<T, D> forward(const Tensor<T, D>& input) override { return input.tanh(); }
  std::string name() const override { return "Tanh"; }
};

/// exp(x) / sum_dim exp(x) along `dim`.
template <class T = float, class D = CPU>
class Softmax : public Cloneable<Softmax<T, D>, T, D> {
 public:
  explicit Softmax(int64_t dim) : dim_(dim) {}
  Tensor<T, D> forward(const Tensor<T, D>& input) override { return input.softmax(dim_); }
  int64_t dim() const { return dim_; }
  std::string name() const override { return "Softmax"; }
  std::string extra_repr() const override { return "dim=" + std::to_string(dim_); }

 private:
  int64_t dim_;
};

/// x - log sum_dim exp(x) along `dim`, computed stably.
template <class T = float, class D = CPU>
class LogSoftmax : public Cloneable<LogSoftmax<T, D>, T, D> {
 public:
  explicit LogSoftmax(int64_t dim) : dim_(dim) {}
  Tensor<T, D> forward(const Tensor<T, D>& input) override { return input.log_softmax(dim_); }
  int64_t dim() const { return dim_; }
  std::string name() const override { return "LogSoftmax"; }
  std::string extra_repr() const override { return "dim=" + std::to_string(dim_); }

 private:
  int64_t dim_;
};

}  // namespace hnn::nn
