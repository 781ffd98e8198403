// hnn::optim::SGD with PyTorch's options and update (momentum, dampening, nesterov, weight_decay), one
// spelling for float and double models (deduced from the parameter vector). Depends on optim/optimizer.hpp.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "hnn/optim/optimizer.hpp"

namespace hnn::optim {

/// Options of SGD; all may be changed after construction (per group through param_groups()).
class SGDOptions {
 public:
  /// lr: the learning rate (no default, as in PyTorch).
  SGDOptions(double lr) : lr_(lr) {}  // NOLINT: implicit like libtorch
  SGDOptions& lr(double v) {
    lr_ = v;
    return *this;
  }
  double lr() const { return lr_; }
  /// Momentum factor, default 0 (plain SGD).
  SGDOptions& momentum(double v) {
    momentum_ = v;
    return *this;
  }
  double momentum() const { return momentum_; }
  /// Dampening of the momentum's new gradient term, default 0.
  SGDOptions& dampening(double v) {
    dampening_ = v;
    return *this;
  }
  double dampening() const { return dampening_; }
  /// L2 penalty added to the gradient (grad + weight_decay * param), default 0.
  SGDOptions& weight_decay(double v) {
    weight_decay_ = v;
    return *this;
  }
  double weight_decay() const { return weight_decay_; }
  /// Nesterov momentum, default false; needs momentum > 0 and dampening 0.
  SGDOptions& nesterov(bool v) {
    nesterov_ = v;
    return *this;
  }
  bool nesterov() const { return nesterov_; }

  /// Throws PyTorch's messages for invalid values.
  void validate() const {
    using hnn::detail::py_float_repr;
    HNN_CHECK(lr_ >= 0.0, "Invalid learning rate: ", py_float_repr(lr_));
    HNN_CHECK(momentum_ >= 0.0, "Invalid momentum value: ", py_float_repr(momentum_));
    HNN_CHECK(weight_decay_ >= 0.0, "Invalid weight_decay value: ", py_float_repr(weight_decay_));
    HNN_CHECK(!nesterov_ || (momentum_ > 0.0 && dampening_ == 0.0),
              "Nesterov momentum requires a momentum and zero dampening");
  }
  void to_json(nlohmann::json& j) const {
    j["lr"] = lr_;
    j["momentum"] = momentum_;
    j["dampening"] = dampening_;
    j["weight_decay"] = weight_decay_;
    j["nesterov"] = nesterov_;
  }
  void from_json(const nlohmann::json& j) {
    lr_ = j.value("lr", lr_);
    momentum_ = j.value("momentum", momentum_);
    dampening_ = j.value("dampening", dampening_);
    weight_decay_ = j.value("weight_decay", weight_decay_);
    nesterov_ = j.value("nesterov", nesterov_);
  }

 private:
  double lr_;
  double momentum_ = 0.0;
  double dampening_ = 0.0;
  double weight_decay_ = 0.0;
  bool nesterov_ = false;
};

/// Per-parameter state of SGD: the momentum buffer (undefined until the first step with momentum).
template <class T>
struct SGDParamState {
  Tensor<T, CPU> momentum_buffer;

  std::vector<std::pair<std::string, AnyTensor<CPU>>> tensors() const {
    if (!momentum_buffer.defined()) return {};
    return {{"momentum_buffer", AnyTensor<CPU>(momentum_buffer)}};
  }
  void load(const std::string& field, const AnyTensor<CPU>& saved, const Shape& param_shape,
            const std::string& what) {
    HNN_CHECK(field == "momentum_buffer", what, ": SGD keeps only momentum_buffer, got '", field, "'");
    momentum_buffer = detail::load_state_tensor<T>(saved, param_shape, what);
  }
};

/*
 * PyTorch's SGD (torch/optim/sgd.py, _single_tensor_sgd), with g the gradient and p the parameter:
 *   g = g + weight_decay * p
 *   buf = g (first step) or momentum * buf + (1 - dampening) * g
 *   g = g + momentum * buf (nesterov) or buf
 *   p = p - lr * g
 */
template <class T = float, class D = CPU>
class SGD : public OptimizerBase<SGD<T, D>, SGDOptions, SGDParamState<T>, T, D> {
 public:
  static constexpr const char* class_name = "SGD";
  using ParamState = SGDParamState<T>;
  using Base = OptimizerBase<SGD<T, D>, SGDOptions, SGDParamState<T>, T, D>;

  SGD(std::vector<Tensor<T, D>> params, SGDOptions options) : Base(std::move(params), options) {}

  /// One parameter's update over its n contiguous elements.
  void update(T* param, const T* grad, int64_t n, const Shape& shape, const SGDOptions& o,
              ParamState& state) {
    const T lr = static_cast<T>(o.lr()), wd = static_cast<T>(o.weight_decay()),
            momentum = static_cast<T>(o.momentum());
    const T keep_grad = static_cast<T>(1.0 - o.dampening());
    const bool first = momentum != T(0) && !state.momentum_buffer.defined();
    if (first) state.momentum_buffer = Tensor<T, CPU>::empty(shape);
    T* buf = momentum != T(0) ? state.momentum_buffer.data() : nullptr;
    const bool nesterov = o.nesterov();
    detail::for_chunks(n, [&](int64_t b, int64_t len) {
      detail::ArrayMap<T> p(param + b, len);
      Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> g0(grad + b, len);
      Eigen::Array<T, Eigen::Dynamic, 1> g = wd != T(0) ? (g0 + wd * p).eval() : g0.eval();
      if (buf) {
        detail::ArrayMap<T> m(buf + b, len);
        if (first)
          m = g;
        else
          m = momentum * m + keep_grad * g;
        if (nesterov)
          p -= lr * (g + momentum * m);
        else
          p -= lr * m;
      } else {
        p -= lr * g;
      }
    });
  }
};

template <class T, class D>
SGD(std::vector<Tensor<T, D>>, SGDOptions) -> SGD<T, D>;

}  // namespace hnn::optim
