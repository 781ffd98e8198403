// The optimiser base: Optimizer (a type-erased interface that schedulers drive: step, zero_grad, per-group
// learning rates, checkpoint state) and OptimizerBase<Derived, Options, State, T, D> (parameter groups,
// per-parameter state slots, PyTorch-shaped state_dict). OptimizerState is the checkpoint form the io layer
// writes. Depends on hnn/tensor.hpp, tensor/any_tensor.hpp, core/parallel.hpp, nlohmann/json, Eigen.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "hnn/core/eigen.hpp"
#include "hnn/core/format.hpp"
#include "hnn/core/parallel.hpp"
#include "hnn/tensor.hpp"
#include "hnn/tensor/any_tensor.hpp"

namespace hnn::optim {

/// An optimiser's checkpoint: `meta` holds {"optimizer": name, "param_groups": [PyTorch's group dicts, each
/// with "params": [global parameter indices]]}; `tensors` holds "state.<param index>.<name>" entries
/// (momentum_buffer; step, exp_avg, exp_avg_sq, max_exp_avg_sq), as torch.optim's state_dict() names them.
// NOLINTNEXTLINE(bugprone-exception-escape): its implicit noexcept moves come from nlohmann::json's
struct OptimizerState {
  nlohmann::json meta;
  std::vector<std::pair<std::string, hnn::AnyTensor<hnn::CPU>>> tensors;
};

namespace detail {

/// Calls fn(begin, length) over [0, n) in chunks (parallel when large) for vectorised Eigen updates.
template <class Fn>
void for_chunks(int64_t n, Fn&& fn) {
  parallel_for(n, parallel_grain, [&](int64_t b, int64_t e) { fn(b, e - b); });
}

template <class T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;

}  // namespace detail

/// The interface schedulers and training loops use, whatever the optimiser and its scalar type.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  /// One update of every parameter that has a gradient (parameters without one are skipped).
  virtual void step() = 0;
  /// Zeroes every parameter's gradient in place (PyTorch 1.13's default, set_to_none=False), or drops it.
  virtual void zero_grad(bool set_to_none = false) = 0;
  virtual size_t num_param_groups() const = 0;
  virtual double group_lr(size_t group) const = 0;
  virtual void set_group_lr(size_t group, double lr) = 0;
  /// The learning rate of the first parameter group.
  double lr() const { return group_lr(0); }
  /// Sets every group's learning rate; takes effect at the next step().
  void set_lr(double lr) {
    for (size_t g = 0; g < num_param_groups(); ++g) set_group_lr(g, lr);
  }
  /// "SGD", "Adam", "AdamW".
  virtual std::string name() const = 0;
  virtual OptimizerState state_dict() const = 0;
  /// Restores options and per-parameter state; checks the optimiser name, group and parameter counts and
  /// every state tensor's shape, throwing std::invalid_argument naming what differs.
  virtual void load_state_dict(const OptimizerState& state) = 0;
};

/// Parameter groups and per-parameter state for an optimiser `Derived` (with update(param, grad, n, shape,
/// options, state) and class_name) whose options type is `Options` (with lr(), validate(), to_json(),
/// from_json()) and whose per-parameter state is `State` (with tensors() naming its defined tensors, and
/// load(name, tensor, param_shape, what)).
template <class Derived, class Options, class State, class T, class D>
class OptimizerBase : public Optimizer {
 public:
  using TensorType = Tensor<T, D>;
  struct ParamGroup {
    std::vector<TensorType> params;
    Options options;
  };

  OptimizerBase(std::vector<TensorType> params, Options options) {
    add_param_group(std::move(params), std::move(options));
  }

  /// Adds parameters optimised with their own options (PyTorch's add_param_group).
  void add_param_group(std::vector<TensorType> params, Options options) {
    options.validate();
    for (const auto& p : params) {
      HNN_CHECK(p.defined(), name(), ": can't optimize an undefined tensor");
      HNN_CHECK(p.is_leaf(), name(), ": can't optimize a non-leaf Tensor");
      HNN_CHECK(p.is_contiguous(), name(), ": parameters must be contiguous, got one of shape ", p.shape());
    }
    groups_.push_back(ParamGroup{std::move(params), std::move(options)});
    state_.resize(state_.size() + groups_.back().params.size());
  }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  std::vector<ParamGroup>& param_groups() { return groups_; }
  /// The first group's options (PyTorch's defaults for groups added without their own).
  const Options& options() const { return groups_.front().options; }

  size_t num_param_groups() const override { return groups_.size(); }
  double group_lr(size_t group) const override { return groups_.at(group).options.lr(); }
  void set_group_lr(size_t group, double lr) override { groups_.at(group).options.lr(lr); }
  std::string name() const override { return Derived::class_name; }

  void zero_grad(bool set_to_none = false) override {
    for (auto& group : groups_)
      for (auto& p : group.params) p.zero_grad(set_to_none);
  }

  void step() override {
    static_assert(is_cpu_v<D>, "hnn optimisers update CPU tensors");
    NoGradGuard guard;
    size_t index = 0;
    for (auto& group : groups_)
      for (auto& p : group.params) {
        auto& slot = state_[index++];
        TensorType grad = p.grad();
        if (!grad.defined()) continue;
        if (!grad.is_contiguous()) grad = grad.contiguous();
        HNN_CHECK_RUNTIME(grad.shape() == p.shape(), name(), ": gradient of shape ", grad.shape(),
                          " for a parameter of shape ", p.shape());
        static_cast<Derived*>(this)->update(p.data(), grad.data(), p.numel(), p.shape(), group.options, slot);
      }
  }

  OptimizerState state_dict() const override {
    OptimizerState out;
    out.meta["optimizer"] = name();
    out.meta["param_groups"] = nlohmann::json::array();
    int64_t index = 0;
    for (const auto& group : groups_) {
      nlohmann::json g;
      group.options.to_json(g);
      g["params"] = nlohmann::json::array();
      for (size_t i = 0; i < group.params.size(); ++i) g["params"].push_back(index + static_cast<int64_t>(i));
      index += static_cast<int64_t>(group.params.size());
      out.meta["param_groups"].push_back(std::move(g));
    }
    for (size_t i = 0; i < state_.size(); ++i)
      for (auto& [key, tensor] : state_[i].tensors())
        out.tensors.emplace_back("state." + std::to_string(i) + "." + key, tensor.clone());
    return out;
  }

  void load_state_dict(const OptimizerState& state) override {
    const std::string who = name() + ".load_state_dict";
    HNN_CHECK(state.meta.is_object(), who, ": the state's meta must be a JSON object, got ",
              state.meta.dump());
    const std::string saved_name = state.meta.contains("optimizer") && state.meta["optimizer"].is_string()
                                       ? state.meta["optimizer"].get<std::string>()
                                       : "";
    HNN_CHECK(saved_name == name(), who, ": the state belongs to optimizer '", saved_name, "', expected '",
              name(), "'");
    HNN_CHECK(state.meta.contains("param_groups") && state.meta["param_groups"].is_array(), who,
              ": the state has no param_groups list");
    const auto& saved_groups = state.meta["param_groups"];
    HNN_CHECK(saved_groups.size() == groups_.size(), who,
              ": loaded state dict has a different number of parameter groups (", saved_groups.size(),
              ", expected ", groups_.size(), ")");
    std::vector<Options> options;
    for (size_t g = 0; g < groups_.size(); ++g) {
      const size_t saved_params = saved_groups[g].contains("params") ? saved_groups[g]["params"].size() : 0;
      HNN_CHECK(saved_params == groups_[g].params.size(), who,
                ": loaded state dict contains a parameter group (", g,
                ") that doesn't match the size of optimizer's group (", saved_params,
                " parameters, expected ", groups_[g].params.size(), ")");
      Options o = groups_[g].options;
      // A wrong JSON type ("lr": "x", "betas": [1]) is a bad state like any other, not a json error.
      try {
        o.from_json(saved_groups[g]);
      } catch (const nlohmann::json::exception& e) {
        throw std::invalid_argument(hnn::detail::concat(who, ": parameter group ", g,
                                                        " has a malformed option: ", e.what(), " in ",
                                                        saved_groups[g].dump()));
      }
      o.validate();
      options.push_back(o);
    }
    // Build the new state completely before touching this optimiser, so a bad entry leaves it unchanged.
    std::vector<const TensorType*> params;
    for (const auto& group : groups_)
      for (const auto& p : group.params) params.push_back(&p);
    std::vector<State> fresh(state_.size());
    for (const auto& [key, tensor] : state.tensors) {
      const size_t first = key.find('.'), second = key.find('.', first + 1);
      HNN_CHECK(key.rfind("state.", 0) == 0 && second != std::string::npos, who, ": unexpected state entry '",
                key, "' (expected state.<param index>.<name>)");
      const std::string index_text = key.substr(first + 1, second - first - 1),
                        field = key.substr(second + 1);
      size_t index = 0;
      auto [ptr, ec] = std::from_chars(index_text.data(), index_text.data() + index_text.size(), index);
      HNN_CHECK(ec == std::errc() && ptr == index_text.data() + index_text.size() && index < params.size(),
                who, ": state entry '", key, "' names parameter ", index_text, " but the optimizer has ",
                params.size(), " parameters");
      fresh[index].load(field, tensor, params[index]->shape(),
                        hnn::detail::concat(who, ": state entry '", key, "'"));
    }
    for (size_t g = 0; g < groups_.size(); ++g) groups_[g].options = options[g];
    state_ = std::move(fresh);
  }

 protected:
  std::vector<ParamGroup> groups_;
  std::vector<State> state_;  // indexed by global parameter index
};

namespace detail {

/// Copies a saved state tensor into a new tensor of dtype T after checking its shape.
template <class T>
Tensor<T, CPU> load_state_tensor(const AnyTensor<CPU>& saved, const Shape& expected,
                                 const std::string& what) {
  HNN_CHECK(saved.defined(), what, " is undefined");
  HNN_CHECK(saved.shape() == expected, what, " has shape ", saved.shape(), ", expected ", expected);
  return saved.template to<T>().contiguous().clone();
}

}  // namespace detail

}  // namespace hnn::optim
