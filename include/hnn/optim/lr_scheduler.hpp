// Learning-rate schedulers with torch.optim.lr_scheduler's logic: StepLR (decay by gamma every step_size
// epochs) and ReduceLROnPlateau (decay when a metric stops improving: mode, factor, patience, threshold,
// threshold_mode, cooldown, min_lr, eps). They drive any optimiser through hnn::optim::Optimizer.
// Depends on optim/optimizer.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "hnn/optim/optimizer.hpp"

namespace hnn::optim {

/// Multiplies every group's learning rate by gamma each time the epoch count reaches a multiple of
/// step_size. Constructing it counts as epoch 0 (PyTorch's initial step); call step() once per epoch.
class StepLR {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1)
      : optimizer_(&optimizer), step_size_(step_size), gamma_(gamma) {
    HNN_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
    for (size_t g = 0; g < optimizer.num_param_groups(); ++g) base_lrs_.push_back(optimizer.group_lr(g));
    last_lr_ = base_lrs_;
  }

  /// Advances one epoch; at epochs step_size, 2 step_size, ... each group's current lr is multiplied by gamma
  /// (PyTorch's chainable form, so an lr set by hand in between is decayed from its new value).
  void step() {
    ++last_epoch_;
    if (last_epoch_ != 0 && last_epoch_ % step_size_ == 0)
      for (size_t g = 0; g < optimizer_->num_param_groups(); ++g)
        optimizer_->set_group_lr(g, optimizer_->group_lr(g) * gamma_);
    record_last_lr();
  }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }

 private:
  void record_last_lr() {
    last_lr_.clear();
    for (size_t g = 0; g < optimizer_->num_param_groups(); ++g) last_lr_.push_back(optimizer_->group_lr(g));
  }
  Optimizer* optimizer_;
  int64_t step_size_;
  double gamma_;
  int64_t last_epoch_ = 0;
  std::vector<double> base_lrs_, last_lr_;
};

/// Options of ReduceLROnPlateau, PyTorch's defaults.
class ReduceLROnPlateauOptions {
 public:
  /// "min": the metric should decrease (a loss); "max": increase (an accuracy). Default "min".
  ReduceLROnPlateauOptions& mode(const std::string& v) {
    mode_ = v;
    return *this;
  }
  const std::string& mode() const { return mode_; }
  /// new_lr = lr * factor, factor < 1. Default 0.1.
  ReduceLROnPlateauOptions& factor(double v) {
    factor_ = v;
    return *this;
  }
  double factor() const { return factor_; }
  /// Epochs without improvement tolerated before a reduction. Default 10.
  ReduceLROnPlateauOptions& patience(int64_t v) {
    patience_ = v;
    return *this;
  }
  int64_t patience() const { return patience_; }
  /// Minimum change that counts as an improvement. Default 1e-4.
  ReduceLROnPlateauOptions& threshold(double v) {
    threshold_ = v;
    return *this;
  }
  double threshold() const { return threshold_; }
  /// "rel": better than best * (1 -/+ threshold); "abs": better than best -/+ threshold. Default "rel".
  ReduceLROnPlateauOptions& threshold_mode(const std::string& v) {
    threshold_mode_ = v;
    return *this;
  }
  const std::string& threshold_mode() const { return threshold_mode_; }
  /// Epochs to wait after a reduction before counting bad epochs again. Default 0.
  ReduceLROnPlateauOptions& cooldown(int64_t v) {
    cooldown_ = v;
    return *this;
  }
  int64_t cooldown() const { return cooldown_; }
  /// Lower bound of every group's lr. Default 0.
  ReduceLROnPlateauOptions& min_lr(double v) {
    min_lr_ = v;
    return *this;
  }
  double min_lr() const { return min_lr_; }
  /// A reduction smaller than eps is skipped. Default 1e-8.
  ReduceLROnPlateauOptions& eps(double v) {
    eps_ = v;
    return *this;
  }
  double eps() const { return eps_; }

 private:
  std::string mode_ = "min";
  double factor_ = 0.1;
  int64_t patience_ = 10;
  double threshold_ = 1e-4;
  std::string threshold_mode_ = "rel";
  int64_t cooldown_ = 0;
  double min_lr_ = 0.0;
  double eps_ = 1e-8;
};

/*
 * PyTorch's ReduceLROnPlateau.step(metric):
 *   improved = metric < best * (1 - threshold)   (min, rel)   | metric < best - threshold (min, abs)
 *            | metric > best * (1 + threshold)   (max, rel)   | metric > best + threshold (max, abs)
 *   improved ? (best = metric, bad = 0) : ++bad
 *   in cooldown: --cooldown_counter, bad = 0
 *   bad > patience: lr = max(lr * factor, min_lr) where that lowers lr by more than eps;
 *                   cooldown_counter = cooldown, bad = 0
 */
class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options = {})
      : optimizer_(&optimizer), options_(std::move(options)) {
    HNN_CHECK(options_.factor() < 1.0, "ReduceLROnPlateau: Factor should be < 1.0. (got ",
              hnn::detail::py_float_repr(options_.factor()), ")");
    HNN_CHECK(options_.mode() == "min" || options_.mode() == "max", "ReduceLROnPlateau: mode ",
              options_.mode(), " is unknown! (expected \"min\" or \"max\")");
    HNN_CHECK(options_.threshold_mode() == "rel" || options_.threshold_mode() == "abs",
              "ReduceLROnPlateau: threshold mode ", options_.threshold_mode(),
              " is unknown! (expected \"rel\" or \"abs\")");
    HNN_CHECK(options_.patience() >= 0, "ReduceLROnPlateau: patience must be non-negative, got ",
              options_.patience());
    best_ = mode_worse();
    for (size_t g = 0; g < optimizer.num_param_groups(); ++g) last_lr_.push_back(optimizer.group_lr(g));
  }

  /// Records one epoch's metric and reduces the learning rates when it has plateaued.
  void step(double metric) {
    ++last_epoch_;
    if (is_better(metric, best_)) {
      best_ = metric;
      num_bad_epochs_ = 0;
    } else {
      ++num_bad_epochs_;
    }
    if (cooldown_counter_ > 0) {
      --cooldown_counter_;
      num_bad_epochs_ = 0;
    }
    if (num_bad_epochs_ > options_.patience()) {
      reduce_lr();
      cooldown_counter_ = options_.cooldown();
      num_bad_epochs_ = 0;
    }
    last_lr_.clear();
    for (size_t g = 0; g < optimizer_->num_param_groups(); ++g) last_lr_.push_back(optimizer_->group_lr(g));
  }

  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  int64_t cooldown_counter() const { return cooldown_counter_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  const ReduceLROnPlateauOptions& options() const { return options_; }

 private:
  double mode_worse() const {
    return options_.mode() == "min" ? std::numeric_limits<double>::infinity()
                                    : -std::numeric_limits<double>::infinity();
  }
  bool is_better(double a, double best) const {
    const bool rel = options_.threshold_mode() == "rel";
    const double t = options_.threshold();
    if (options_.mode() == "min") return rel ? a < best * (1.0 - t) : a < best - t;
    return rel ? a > best * (t + 1.0) : a > best + t;
  }
  void reduce_lr() {
    for (size_t g = 0; g < optimizer_->num_param_groups(); ++g) {
      const double old_lr = optimizer_->group_lr(g);
      const double new_lr = std::max(old_lr * options_.factor(), options_.min_lr());
      if (old_lr - new_lr > options_.eps()) optimizer_->set_group_lr(g, new_lr);
    }
  }

  Optimizer* optimizer_;
  ReduceLROnPlateauOptions options_;
  double best_;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
  int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace hnn::optim
