// Module<T, Device>: the base of every layer and loss. Parameters, buffers and children are registered by
// name in insertion order (undefined placeholders keep PyTorch's key positions), so named_parameters()
// and state_dict() produce PyTorch's dotted names. train()/eval() recurse; forward hooks fire around
// forward(); Cloneable<Derived> adds deep copies. Modules are plain classes with value semantics
// (copies share parameter storage, like tensors; clone() copies it). Depends on hnn/tensor.hpp.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <utility>
#include <vector>

#include "hnn/nn/state_dict.hpp"
#include "hnn/tensor.hpp"
#include "hnn/tensor/any_tensor.hpp"

namespace hnn::detail {

/// The exception now unwinding through Module::operator() calls on this thread, as the modules it passes
/// see it: `at` is the module that last let it through, `path` the dotted path from `at` down to the module
/// whose forward raised it ("" when that is `at` itself), `type` that module's class name, `original` the
/// message it was raised with and `message` the message of the exception in flight (with the path prefix).
struct ForwardFailure {
  const void* at = nullptr;
  std::string path, type, original, message;
};

inline ForwardFailure& forward_failure() {
  thread_local ForwardFailure failure;
  return failure;
}

/// Throws a new exception of exactly e's standard type with `message`; returns when e is of another type
/// (a user-defined exception is never sliced to its base).
inline void throw_same_type(const std::exception& e, const std::string& message) {
  const std::type_info& type = typeid(e);
  if (type == typeid(std::invalid_argument)) throw std::invalid_argument(message);
  if (type == typeid(std::runtime_error)) throw std::runtime_error(message);
  if (type == typeid(std::out_of_range)) throw std::out_of_range(message);
  if (type == typeid(std::logic_error)) throw std::logic_error(message);
  if (type == typeid(std::domain_error)) throw std::domain_error(message);
  if (type == typeid(std::length_error)) throw std::length_error(message);
  if (type == typeid(std::range_error)) throw std::range_error(message);
  if (type == typeid(std::overflow_error)) throw std::overflow_error(message);
  if (type == typeid(std::underflow_error)) throw std::underflow_error(message);
}

}  // namespace hnn::detail

namespace hnn::nn {

template <class T, class D>
class Module;

/// Returned by register_forward_hook / register_forward_pre_hook; remove() detaches the hook.
class RemovableHandle {
 public:
  RemovableHandle() = default;
  explicit RemovableHandle(std::function<void()> remover)
      : remover_(std::make_shared<std::function<void()>>(std::move(remover))) {}
  void remove() {
    if (remover_ && *remover_) {
      (*remover_)();
      *remover_ = nullptr;
    }
  }

 private:
  std::shared_ptr<std::function<void()>> remover_;
};

/// A RemovableHandle that removes its hook when it goes out of scope (PyTorch's `with handle:`), or when
/// another handle is moved over it. Move-only.
class ScopedRemovableHandle {
 public:
  ScopedRemovableHandle() = default;
  // NOLINTNEXTLINE: implicit, so that `ScopedRemovableHandle h = module.register_forward_hook(...)` reads
  // well
  ScopedRemovableHandle(RemovableHandle handle) : handle_(new RemovableHandle(std::move(handle))) {}
  void remove() { handle_.reset(); }

 private:
  struct Remove {
    void operator()(RemovableHandle* handle) const {
      handle->remove();
      delete handle;
    }
  };
  std::unique_ptr<RemovableHandle, Remove> handle_;
};

template <class T = float, class D = CPU>
class Module {
 public:
  using TensorType = Tensor<T, D>;
  using value_type = T;
  using device_type = D;
  using ForwardHook = std::function<void(Module&, const TensorType& input, TensorType& output)>;
  using ForwardPreHook = std::function<void(Module&, const TensorType& input)>;

  virtual ~Module() = default;

  /// The computation; call the module itself (operator()) so hooks fire.
  virtual TensorType forward(const TensorType& input) = 0;

  /// forward(input) with the hooks around it. An exception raised inside reaches the caller with the path
  /// of the module that raised it prefixed, as seen from the module called ("9 (Linear): ...",
  /// "features.3 (Conv2d): ..."), keeping its standard exception type and its text.
  TensorType operator()(const TensorType& input) {
    try {
      autograd::AnomalyForwardScope scope(*this);  // names this module in anomaly reports; free when off
      if (!hooks_ || (hooks_->pre.empty() && hooks_->post.empty())) return forward(input);
      auto hooks = hooks_;  // a hook may remove itself
      for (auto& [id, hook] : std::map<int, ForwardPreHook>(hooks->pre)) hook(*this, input);
      TensorType output = forward(input);
      for (auto& [id, hook] : std::map<int, ForwardHook>(hooks->post)) hook(*this, input, output);
      return output;
    } catch (const std::exception& e) {
      name_failure(e);
      throw;
    }
  }

  /// The class name PyTorch prints ("Linear", "BatchNorm2d").
  virtual std::string name() const = 0;
  /// The text inside the parentheses of the repr, e.g. "in_features=784, out_features=256, bias=True".
  virtual std::string extra_repr() const { return ""; }
  /// A deep copy: same structure, parameters and buffers copied into new storage.
  virtual std::shared_ptr<Module> clone() const = 0;

  // ---- mode -----------------------------------------------------------------------------------------
  virtual void train(bool on = true) {
    training_ = on;
    for (auto& [name, child] : children_) child->train(on);
  }
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- parameters, buffers, children ----------------------------------------------------------------
  std::vector<TensorType> parameters(bool recurse = true) const {
    std::vector<TensorType> out;
    for (auto& [name, p] : named_parameters(recurse)) out.push_back(p);
    return out;
  }
  std::vector<std::pair<std::string, TensorType>> named_parameters(bool recurse = true) const {
    std::vector<std::pair<std::string, TensorType>> out;
    collect_parameters("", recurse, out);
    return out;
  }
  std::vector<AnyTensor<D>> buffers(bool recurse = true) const {
    std::vector<AnyTensor<D>> out;
    for (auto& [name, b] : named_buffers(recurse)) out.push_back(b);
    return out;
  }
  std::vector<std::pair<std::string, AnyTensor<D>>> named_buffers(bool recurse = true) const {
    std::vector<std::pair<std::string, AnyTensor<D>>> out;
    collect_buffers("", recurse, out);
    return out;
  }
  std::vector<std::shared_ptr<Module>> children() const {
    std::vector<std::shared_ptr<Module>> out;
    for (auto& [name, c] : children_) out.push_back(c);
    return out;
  }
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const {
    return children_;
  }
  /// Every module in the tree, this one first, depth-first, with dotted names ("" for this one).
  std::vector<std::pair<std::string, Module*>> named_modules(const std::string& prefix = "") {
    std::vector<std::pair<std::string, Module*>> out{{prefix, this}};
    for (auto& [name, child] : children_) {
      auto sub = child->named_modules(prefix.empty() ? name : hnn::detail::concat(prefix, ".", name));
      out.insert(out.end(), sub.begin(), sub.end());
    }
    return out;
  }
  /// Replaces the child registered under `name` (used by converters such as convert_sync_batchnorm).
  void replace_child(const std::string& name, std::shared_ptr<Module> module) {
    for (auto& [n, c] : children_)
      if (n == name) {
        c = std::move(module);
        return;
      }
    throw std::invalid_argument(detail::concat(this->name(), " has no child named '", name, "'"));
  }

  /// Sets every parameter's gradient to undefined (set_to_none, PyTorch's default) or to zeros.
  void zero_grad(bool set_to_none = true) {
    for (auto& p : parameters()) p.zero_grad(set_to_none);
  }

  // ---- state dict -----------------------------------------------------------------------------------
  StateDict<D> state_dict() const {
    StateDict<D> out;
    collect_state("", out);
    return out;
  }

  /// Copies values in place from `state` (so optimisers keep their references) and returns the keys that
  /// did not match (PyTorch's IncompatibleKeys). With strict, missing and unexpected keys raise instead;
  /// wrongly shaped keys always raise (as in PyTorch); all are listed in one std::runtime_error, and nothing
  /// is written then. A key the module defaults when missing (a batch norm's num_batches_tracked, as
  /// PyTorch 1.13 does for state dicts without version metadata) is set to 0 and not reported.
  IncompatibleKeys load_state_dict(const StateDict<D>& state, bool strict = true) {
    StateDict<D> own = state_dict();
    std::vector<std::string> missing, unexpected, mismatched, defaulted;
    for (const auto& [key, value] : own) {
      if (!state.count(key)) {
        (owner_of(key).first->defaults_missing_state_key(owner_of(key).second) ? defaulted : missing)
            .push_back(key);
        continue;
      }
      const auto& src = state.at(key);
      if (src.shape() != value.shape())
        mismatched.push_back(detail::concat("size mismatch for ", key, ": copying a param with shape ",
                                            src.shape(), " from checkpoint, the shape in current model is ",
                                            value.shape(), "."));
    }
    for (const auto& [key, value] : state)
      if (!own.count(key) && !ignored_state_key(key)) unexpected.push_back(key);
    std::ostringstream errors;
    auto list = [](const std::vector<std::string>& keys) {
      std::string s;
      for (size_t i = 0; i < keys.size(); ++i) s += (i ? ", \"" : "\"") + keys[i] + "\"";
      return s;
    };
    if (strict && !missing.empty()) errors << "\n\tMissing key(s) in state_dict: " << list(missing) << ".";
    if (strict && !unexpected.empty())
      errors << "\n\tUnexpected key(s) in state_dict: " << list(unexpected) << ".";
    for (const auto& m : mismatched) errors << "\n\t" << m;
    if (!errors.str().empty())
      throw std::runtime_error("Error(s) in loading state_dict for " + name() + ":" + errors.str());
    for (const auto& [key, value] : own)
      if (state.count(key)) AnyTensor<D>(value).copy_from(state.at(key));
    for (const auto& key : defaulted)
      AnyTensor<D>(own.at(key)).copy_from(hnn::zeros<int64_t, D>(own.at(key).shape()));
    for (const auto& [path, module] : named_modules()) module->on_state_loaded();
    return {missing, unexpected};
  }

  /// Called on this module and every descendant after load_state_dict has written their tensors in place
  /// (where PyTorch's _load_from_state_dict would react): a module that keeps something derived from its
  /// parameters or buffers drops it here, e.g. batch norm's host copy of num_batches_tracked.
  virtual void on_state_loaded() {}

  /// Whether load_state_dict passes over `key` (this module's own name, without its path) in a state dict
  /// instead of calling it unexpected: e.g. a frozen batch norm loading a BatchNorm's num_batches_tracked.
  virtual bool ignores_state_key(const std::string& /*key*/) const { return false; }

  /// Whether load_state_dict sets `key` (this module's own name) to zero instead of reporting it missing
  /// when a state dict lacks it: a batch norm's num_batches_tracked.
  virtual bool defaults_missing_state_key(const std::string& /*key*/) const { return false; }

  /// Whether the module the dotted `key` points into ignores the key's last part (ignores_state_key).
  bool ignored_state_key(const std::string& key) {
    const auto [module, local] = owner_of(key);
    return module != nullptr && module->ignores_state_key(local);
  }

  // ---- hooks ----------------------------------------------------------------------------------------
  /// fn(module, input, output) runs after forward and may replace the output.
  RemovableHandle register_forward_hook(ForwardHook fn) {
    auto& hooks = ensure_hooks();
    int id = hooks.next_id++;
    hooks.post.emplace(id, std::move(fn));
    std::weak_ptr<Hooks> weak = hooks_;
    return RemovableHandle([weak, id] {
      if (auto h = weak.lock()) h->post.erase(id);
    });
  }
  /// fn(module, input) runs before forward.
  RemovableHandle register_forward_pre_hook(ForwardPreHook fn) {
    auto& hooks = ensure_hooks();
    int id = hooks.next_id++;
    hooks.pre.emplace(id, std::move(fn));
    std::weak_ptr<Hooks> weak = hooks_;
    return RemovableHandle([weak, id] {
      if (auto h = weak.lock()) h->pre.erase(id);
    });
  }

  // ---- printing -------------------------------------------------------------------------------------
  /// PyTorch's repr: "Name(extra)" for a leaf, nested "(child): ..." lines for a container.
  std::string repr() const {
    std::string extra = extra_repr();
    if (children_.empty()) return name() + "(" + extra + ")";
    std::string out = name() + "(";
    if (!extra.empty()) out += "\n  " + extra;
    for (const auto& [child_name, child] : children_) {
      std::string child_repr = child->repr();
      std::string indented;
      for (char c : child_repr) {
        indented += c;
        if (c == '\n') indented += "  ";
      }
      out.append("\n  (").append(child_name).append("): ").append(indented);
    }
    return out + "\n)";
  }
  friend std::ostream& operator<<(std::ostream& os, const Module& m) { return os << m.repr(); }

 protected:
  Module() = default;
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;
  Module(Module&&) noexcept = default;
  Module& operator=(Module&&) noexcept = default;

  /// Registers a parameter (an undefined tensor is a placeholder, e.g. bias=false) and returns its slot.
  size_t register_parameter(const std::string& name, TensorType tensor, bool requires_grad = true) {
    if (tensor.defined() && requires_grad) tensor.requires_grad_(true);
    parameters_.emplace_back(name, std::move(tensor));
    return parameters_.size() - 1;
  }
  size_t register_buffer(const std::string& name, AnyTensor<D> tensor) {
    buffers_.emplace_back(name, std::move(tensor));
    return buffers_.size() - 1;
  }
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    children_.emplace_back(name, module);
    return module;
  }

  TensorType& parameter(size_t slot) { return parameters_[slot].second; }
  const TensorType& parameter(size_t slot) const { return parameters_[slot].second; }
  AnyTensor<D>& buffer(size_t slot) { return buffers_[slot].second; }
  const AnyTensor<D>& buffer(size_t slot) const { return buffers_[slot].second; }
  std::vector<std::pair<std::string, std::shared_ptr<Module>>>& mutable_children() { return children_; }

  /// After a shallow copy: gives this module its own copies of parameters, buffers and children.
  void deep_copy_state() {
    NoGradGuard guard;
    for (auto& [name, p] : parameters_)
      if (p.defined()) {
        bool rg = p.requires_grad();
        p = p.detach().clone();
        if (rg) p.requires_grad_(true);
      }
    for (auto& [name, b] : buffers_)
      if (b.defined()) b = b.clone();
    for (auto& [name, c] : children_) c = c->clone();
    hooks_.reset();
  }

 private:
  struct Hooks {
    std::map<int, ForwardPreHook> pre;
    std::map<int, ForwardHook> post;
    int next_id = 0;
  };
  Hooks& ensure_hooks() {
    if (!hooks_) hooks_ = std::make_shared<Hooks>();
    return *hooks_;
  }

  /// The module a dotted state key belongs to and the key's last part ("2.0.weight" -> (module 2.0,
  /// "weight")); the module is null when no module has that path.
  std::pair<Module*, std::string> owner_of(const std::string& key) {
    const auto dot = key.rfind('.');
    const std::string path = dot == std::string::npos ? "" : key.substr(0, dot);
    const std::string local = dot == std::string::npos ? key : key.substr(dot + 1);
    for (const auto& [name, module] : named_modules())
      if (name == path) return {module, local};
    return {nullptr, local};
  }

  // Called from operator()'s handler for an exception `e` leaving this module's forward: when it came up
  // from a child, rethrows it as the same standard type with the child's path prefixed; otherwise (raised
  // by this module's own code) records this module as the one that raised it and rethrows it unchanged.
  void name_failure(const std::exception& e) const {
    auto& failure = hnn::detail::forward_failure();
    if (failure.message != e.what()) {
      failure = {this, "", name(), e.what(), e.what()};
      return;
    }
    for (const auto& [child_name, child] : children_) {
      if (child.get() != failure.at) continue;
      failure.at = this;
      failure.path = failure.path.empty() ? child_name : child_name + "." + failure.path;
      failure.message = failure.path + " (" + failure.type + "): " + failure.original;
      hnn::detail::throw_same_type(e, failure.message);
      failure.message = e.what();  // another type: passed on unchanged
      return;
    }
    failure.at = this;  // from a module this one calls without registering it: passed on as it is
  }

  void collect_parameters(const std::string& prefix, bool recurse,
                          std::vector<std::pair<std::string, TensorType>>& out) const {
    for (const auto& [name, p] : parameters_)
      if (p.defined()) out.emplace_back(prefix + name, p);
    if (recurse)
      for (const auto& [name, c] : children_) c->collect_parameters(prefix + name + ".", true, out);
  }
  void collect_buffers(const std::string& prefix, bool recurse,
                       std::vector<std::pair<std::string, AnyTensor<D>>>& out) const {
    for (const auto& [name, b] : buffers_)
      if (b.defined()) out.emplace_back(prefix + name, b);
    if (recurse)
      for (const auto& [name, c] : children_) c->collect_buffers(prefix + name + ".", true, out);
  }
  void collect_state(const std::string& prefix, StateDict<D>& out) const {
    for (const auto& [name, p] : parameters_)
      if (p.defined()) out.insert(prefix + name, AnyTensor<D>(p.detach()));
    for (const auto& [name, b] : buffers_)
      if (b.defined()) out.insert(prefix + name, b);
    for (const auto& [name, c] : children_) c->collect_state(prefix + name + ".", out);
  }

  std::vector<std::pair<std::string, TensorType>> parameters_;
  std::vector<std::pair<std::string, AnyTensor<D>>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::shared_ptr<Hooks> hooks_;
  bool training_ = true;
};

/// CRTP helper: implements clone() for Derived by copy construction followed by a deep copy of state.
template <class Derived, class T = float, class D = CPU>
class Cloneable : public Module<T, D> {
 public:
  std::shared_ptr<Module<T, D>> clone() const override {
    auto copy = std::make_shared<Derived>(static_cast<const Derived&>(*this));
    copy->deep_copy_state();
    return copy;
  }
};

}  // namespace hnn::nn
