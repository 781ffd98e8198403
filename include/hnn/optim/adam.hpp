// hnn::optim::Adam and AdamW with PyTorch 1.13's options and update (betas, eps, weight_decay, amsgrad;
// AdamW's decoupled decay, default 0.01), one spelling for float and double models.
// Depends on optim/optimizer.hpp.
#pragma once

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "hnn/optim/optimizer.hpp"

namespace hnn::optim {

/// Options shared by Adam and AdamW (Derived gives the setters' return type); all may change after
/// construction.
template <class Derived>
class AdamOptionsBase {
 public:
  AdamOptionsBase(double lr, double weight_decay) : lr_(lr), weight_decay_(weight_decay) {}
  /// Learning rate, default 1e-3.
  Derived& lr(double v) {
    lr_ = v;
    return self();
  }
  double lr() const { return lr_; }
  /// Decay rates of the first and second moment averages, default (0.9, 0.999).
  Derived& betas(std::pair<double, double> v) {
    betas_ = v;
    return self();
  }
  std::pair<double, double> betas() const { return betas_; }
  /// Added to the denominator for stability, default 1e-8.
  Derived& eps(double v) {
    eps_ = v;
    return self();
  }
  double eps() const { return eps_; }
  /// Adam: L2 penalty added to the gradient (default 0); AdamW: decoupled decay p *= 1 - lr * wd (default
  /// 0.01).
  Derived& weight_decay(double v) {
    weight_decay_ = v;
    return self();
  }
  double weight_decay() const { return weight_decay_; }
  /// Use the running maximum of the second moment (AMSGrad), default false.
  Derived& amsgrad(bool v) {
    amsgrad_ = v;
    return self();
  }
  bool amsgrad() const { return amsgrad_; }

  /// Throws PyTorch's messages for invalid values.
  void validate() const {
    using hnn::detail::py_float_repr;
    HNN_CHECK(lr_ >= 0.0, "Invalid learning rate: ", py_float_repr(lr_));
    HNN_CHECK(eps_ >= 0.0, "Invalid epsilon value: ", py_float_repr(eps_));
    HNN_CHECK(betas_.first >= 0.0 && betas_.first < 1.0,
              "Invalid beta parameter at index 0: ", py_float_repr(betas_.first));
    HNN_CHECK(betas_.second >= 0.0 && betas_.second < 1.0,
              "Invalid beta parameter at index 1: ", py_float_repr(betas_.second));
    HNN_CHECK(weight_decay_ >= 0.0, "Invalid weight_decay value: ", py_float_repr(weight_decay_));
  }
  void to_json(nlohmann::json& j) const {
    j["lr"] = lr_;
    j["betas"] = {betas_.first, betas_.second};
    j["eps"] = eps_;
    j["weight_decay"] = weight_decay_;
    j["amsgrad"] = amsgrad_;
  }
  void from_json(const nlohmann::json& j) {
    lr_ = j.value("lr", lr_);
    if (j.contains("betas")) betas_ = {j["betas"].at(0).get<double>(), j["betas"].at(1).get<double>()};
    eps_ = j.value("eps", eps_);
    weight_decay_ = j.value("weight_decay", weight_decay_);
    amsgrad_ = j.value("amsgrad", amsgrad_);
  }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
  double lr_;
  std::pair<double, double> betas_{0.9, 0.999};
  double eps_ = 1e-8;
  double weight_decay_;
  bool amsgrad_ = false;
};

class AdamOptions : public AdamOptionsBase<AdamOptions> {
 public:
  AdamOptions(double lr = 1e-3) : AdamOptionsBase(lr, 0.0) {}  // NOLINT: implicit like libtorch
};

class AdamWOptions : public AdamOptionsBase<AdamWOptions> {
 public:
  AdamWOptions(double lr = 1e-3) : AdamOptionsBase(lr, 1e-2) {}  // NOLINT: implicit like libtorch
};

/// Per-parameter state of Adam/AdamW: the step count and the moment averages (created at the first step).
template <class T>
struct AdamParamState {
  int64_t step = 0;
  Tensor<T, CPU> exp_avg, exp_avg_sq, max_exp_avg_sq;

  /// PyTorch 1.13 keeps `step` as a float32 0-dim tensor; so does the checkpoint.
  std::vector<std::pair<std::string, AnyTensor<CPU>>> tensors() const {
    std::vector<std::pair<std::string, AnyTensor<CPU>>> out;
    if (!exp_avg.defined()) return out;
    out.emplace_back("step", AnyTensor<CPU>(full<float>(Shape{}, static_cast<float>(step))));
    out.emplace_back("exp_avg", AnyTensor<CPU>(exp_avg));
    out.emplace_back("exp_avg_sq", AnyTensor<CPU>(exp_avg_sq));
    if (max_exp_avg_sq.defined()) out.emplace_back("max_exp_avg_sq", AnyTensor<CPU>(max_exp_avg_sq));
    return out;
  }
  void load(const std::string& field, const AnyTensor<CPU>& saved, const Shape& param_shape,
            const std::string& what) {
    if (field == "step") {
      HNN_CHECK(saved.defined() && saved.numel() == 1, what, " must hold one value, got shape ",
                saved.shape());
      step = static_cast<int64_t>(std::llround(saved.to_vector<double>()[0]));
    } else if (field == "exp_avg") {
      exp_avg = detail::load_state_tensor<T>(saved, param_shape, what);
    } else if (field == "exp_avg_sq") {
      exp_avg_sq = detail::load_state_tensor<T>(saved, param_shape, what);
    } else if (field == "max_exp_avg_sq") {
      max_exp_avg_sq = detail::load_state_tensor<T>(saved, param_shape, what);
    } else {
      throw std::invalid_argument(hnn::detail::concat(
          what, ": Adam keeps step, exp_avg, exp_avg_sq and max_exp_avg_sq, got '", field, "'"));
    }
  }
};

/*
 * PyTorch 1.13's Adam (torch/optim/adam.py, _single_tensor_adam), with g the gradient, t the step:
 *   Adam:  g = g + weight_decay * p          AdamW: p = p * (1 - lr * weight_decay)
 *   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2;   vmax = max(vmax, v) (amsgrad)
 *   p = p - lr / (1 - beta1^t) * m / (sqrt(v or vmax) / sqrt(1 - beta2^t) + eps)
 */
template <class Derived, class Options, class T, class D, bool Decoupled>
class AdamBase : public OptimizerBase<Derived, Options, AdamParamState<T>, T, D> {
 public:
  using ParamState = AdamParamState<T>;
  using OptimizerBase<Derived, Options, AdamParamState<T>, T, D>::OptimizerBase;

  void update(T* param, const T* grad, int64_t n, const Shape& shape, const Options& o, ParamState& state) {
    if (!state.exp_avg.defined()) {
      state.step = 0;
      state.exp_avg = zeros<T, CPU>(shape);
      state.exp_avg_sq = zeros<T, CPU>(shape);
      if (o.amsgrad()) state.max_exp_avg_sq = zeros<T, CPU>(shape);
    }
    if (o.amsgrad() && !state.max_exp_avg_sq.defined()) state.max_exp_avg_sq = zeros<T, CPU>(shape);
    const double step = static_cast<double>(++state.step);
    const auto [beta1_d, beta2_d] = o.betas();
    const T beta1 = static_cast<T>(beta1_d), beta2 = static_cast<T>(beta2_d);
    const T wd = static_cast<T>(o.weight_decay()), eps = static_cast<T>(o.eps());
    const T step_size = static_cast<T>(o.lr() / (1.0 - std::pow(beta1_d, step)));
    const T bias_correction2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(beta2_d, step)));
    const T decay = static_cast<T>(1.0 - o.lr() * o.weight_decay());
    T* pm = state.exp_avg.data();
    T* pv = state.exp_avg_sq.data();
    T* pvmax = o.amsgrad() ? state.max_exp_avg_sq.data() : nullptr;
    detail::for_chunks(n, [&](int64_t b, int64_t len) {
      detail::ArrayMap<T> p(param + b, len), m(pm + b, len), v(pv + b, len);
      Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> g0(grad + b, len);
      Eigen::Array<T, Eigen::Dynamic, 1> g;
      if constexpr (Decoupled) {
        if (wd != T(0)) p *= decay;
        g = g0;
      } else {
        g = wd != T(0) ? (g0 + wd * p).eval() : g0.eval();
      }
      m = m * beta1 + (T(1) - beta1) * g;
      v = v * beta2 + (T(1) - beta2) * g * g;
      if (pvmax) {
        detail::ArrayMap<T> vmax(pvmax + b, len);
        vmax = vmax.max(v);
        p -= step_size * m / (vmax.sqrt() / bias_correction2_sqrt + eps);
      } else {
        p -= step_size * m / (v.sqrt() / bias_correction2_sqrt + eps);
      }
    });
  }
};

template <class T = float, class D = CPU>
class Adam : public AdamBase<Adam<T, D>, AdamOptions, T, D, false> {
 public:
  static constexpr const char* class_name = "Adam";
  Adam(std::vector<Tensor<T, D>> params, AdamOptions options = {})
      : AdamBase<Adam<T, D>, AdamOptions, T, D, false>(std::move(params), std::move(options)) {}
};

template <class T = float, class D = CPU>
class AdamW : public AdamBase<AdamW<T, D>, AdamWOptions, T, D, true> {
 public:
  static constexpr const char* class_name = "AdamW";
  AdamW(std::vector<Tensor<T, D>> params, AdamWOptions options = {})
      : AdamBase<AdamW<T, D>, AdamWOptions, T, D, true>(std::move(params), std::move(options)) {}
};

template <class T, class D>
Adam(std::vector<Tensor<T, D>>, AdamOptions) -> Adam<T, D>;
template <class T, class D>
Adam(std::vector<Tensor<T, D>>) -> Adam<T, D>;
template <class T, class D>
AdamW(std::vector<Tensor<T, D>>, AdamWOptions) -> AdamW<T, D>;
template <class T, class D>
AdamW(std::vector<Tensor<T, D>>) -> AdamW<T, D>;

}  // namespace hnn::optim
