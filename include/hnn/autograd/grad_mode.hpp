// Grad mode: whether ops record autograd graphs on this thread. NoGradGuard and InferenceMode switch
// recording off for a scope; DetectAnomalyGuard (autograd/anomaly_mode.hpp, included here) checks backward
// results for NaN/Inf. Standard library only.
#pragma once

#include "hnn/autograd/anomaly_mode.hpp"

namespace hnn {

namespace autograd::detail {
inline bool& grad_enabled_flag() {
  thread_local bool enabled = true;
  return enabled;
}
inline bool& inference_mode_flag() {
  thread_local bool enabled = false;
  return enabled;
}
}  // namespace autograd::detail

/// True when ops record graphs on this thread (the default).
inline bool is_grad_enabled() { return autograd::detail::grad_enabled_flag(); }
inline void set_grad_enabled(bool enabled) { autograd::detail::grad_enabled_flag() = enabled; }

/// Disables graph recording in its scope (like torch.no_grad), restoring the previous mode on exit.
class NoGradGuard {
 public:
  NoGradGuard() : previous_(is_grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

/// Like torch.inference_mode: no graph recording and no autograd bookkeeping in its scope.
class InferenceMode {
 public:
  explicit InferenceMode(bool enabled = true)
      : previous_grad_(is_grad_enabled()), previous_inference_(autograd::detail::inference_mode_flag()) {
    if (enabled) {
      set_grad_enabled(false);
      autograd::detail::inference_mode_flag() = true;
    }
  }
  ~InferenceMode() {
    set_grad_enabled(previous_grad_);
    autograd::detail::inference_mode_flag() = previous_inference_;
  }
  InferenceMode(const InferenceMode&) = delete;
  InferenceMode& operator=(const InferenceMode&) = delete;
  static bool is_enabled() { return autograd::detail::inference_mode_flag(); }

 private:
  bool previous_grad_;
  bool previous_inference_;
};

}  // namespace hnn
