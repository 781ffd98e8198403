// Anomaly detection, like torch.autograd.detect_anomaly: while it is on, every op notes where it was
// created (a sequence number, its inputs' shapes, the module path of the forward that ran it) and backward
// checks what each node returns for NaN/Inf, throwing an error that names the op and that place.
// Standard library only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hnn::autograd {

namespace detail {

/// The on/off switch, read once per op and once per backward node: a constant-initialised thread_local
/// bool, so the check costs one load when anomaly detection is off.
inline bool& anomaly_mode_flag() {
  thread_local bool enabled = false;
  return enabled;
}

/// What anomaly mode keeps besides the switch; touched only while it is on.
struct AnomalyState {
  bool check_nan = true;
  uint64_t ops_recorded = 0;                // numbers ops in creation order ("op #12")
  std::vector<std::string> forward_scopes;  // module names / container keys of the forwards running now
};
inline AnomalyState& anomaly_state() {
  thread_local AnomalyState state;
  return state;
}

/// "Sequential/0/Conv2d": the forward scopes joined, or "" at top level.
inline std::string forward_scope_path() {
  std::string path;
  for (const auto& scope : anomaly_state().forward_scopes) path += (path.empty() ? "" : "/") + scope;
  return path;
}

}  // namespace detail

/// The process-wide (per-thread) anomaly-detection switch, with libtorch's names.
class AnomalyMode {
 public:
  static bool is_enabled() { return detail::anomaly_mode_flag(); }
  /// With check_nan false, ops still note where they were created (errors in backward name that place),
  /// but NaN/Inf gradients do not throw.
  static void set_enabled(bool enabled, bool check_nan = true) {
    detail::anomaly_mode_flag() = enabled;
    detail::anomaly_state().check_nan = check_nan;
  }
  static bool should_check_nan() { return detail::anomaly_state().check_nan; }
};

/// Turns anomaly detection on for its scope (torch.autograd.detect_anomaly) and restores the previous
/// mode on exit, so guards nest. Meant for debugging: every op does extra bookkeeping and every gradient
/// is scanned while it is alive.
class DetectAnomalyGuard {
 public:
  explicit DetectAnomalyGuard(bool check_nan = true)
      : previous_enabled_(AnomalyMode::is_enabled()), previous_check_nan_(AnomalyMode::should_check_nan()) {
    AnomalyMode::set_enabled(true, check_nan);
  }
  ~DetectAnomalyGuard() { AnomalyMode::set_enabled(previous_enabled_, previous_check_nan_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool previous_enabled_;
  bool previous_check_nan_;
};

/// Names one level of the forward that is running (a module's class name, a container's child key) for
/// the ops created inside it; does nothing when anomaly detection is off. Module::operator() opens one.
class AnomalyForwardScope {
 public:
  explicit AnomalyForwardScope(const std::string& label) : active_(AnomalyMode::is_enabled()) {
    if (active_) detail::anomaly_state().forward_scopes.push_back(label);
  }
  /// Takes the module so its (virtual) name() is only called when anomaly detection is on.
  template <class Module>
  requires requires(const Module& m) { m.name(); }
  explicit AnomalyForwardScope(const Module& module) : active_(AnomalyMode::is_enabled()) {
    if (active_) detail::anomaly_state().forward_scopes.push_back(module.name());
  }
  ~AnomalyForwardScope() {
    if (active_ && !detail::anomaly_state().forward_scopes.empty())
      detail::anomaly_state().forward_scopes.pop_back();
  }
  AnomalyForwardScope(const AnomalyForwardScope&) = delete;
  AnomalyForwardScope& operator=(const AnomalyForwardScope&) = delete;

 private:
  bool active_;
};

}  // namespace hnn::autograd
