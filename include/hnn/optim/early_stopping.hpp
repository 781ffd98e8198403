// EarlyStopping(patience, min_delta, restore_best_weights): watches a validation loss, says when it has not
// improved by more than min_delta for `patience` epochs, and keeps a deep copy of the best model state to
// restore. Depends on nn/state_dict.hpp (any model with state_dict()/load_state_dict() works).
#pragma once

#include <cstdint>
#include <limits>

#include "hnn/core/error.hpp"
#include "hnn/nn/state_dict.hpp"

namespace hnn::optim {

/*
 * step(val_loss, model):
 *   val_loss < best - min_delta  ->  best = val_loss, counter = 0, snapshot = deep copy of model.state_dict()
 *   otherwise                    ->  ++counter (a NaN loss never improves)
 *   returns counter >= patience (stop training)
 * restore_best(model) copies the snapshot back into the model's own storage (optimisers keep their
 * references), when restore_best_weights is on and a best epoch exists.
 */
template <class D = CPU>
class EarlyStopping {
 public:
  explicit EarlyStopping(int64_t patience = 5, double min_delta = 0.0, bool restore_best_weights = true)
      : patience_(patience), min_delta_(min_delta), restore_best_weights_(restore_best_weights) {
    HNN_CHECK(patience >= 0, "EarlyStopping: patience must be non-negative, got ", patience);
    HNN_CHECK(min_delta >= 0.0, "EarlyStopping: min_delta must be non-negative, got ", min_delta);
  }

  /// Records one epoch's validation loss; true when training should stop.
  template <class Model>
  bool step(double val_loss, const Model& model) {
    ++epoch_;
    if (val_loss < best_loss_ - min_delta_) {
      best_loss_ = val_loss;
      best_epoch_ = epoch_;
      counter_ = 0;
      if (restore_best_weights_) {
        best_state_ = nn::StateDict<D>();
        for (const auto& [key, value] : model.state_dict()) best_state_.insert(key, value.clone());
      }
    } else {
      ++counter_;
    }
    stop_ = counter_ >= patience_;
    return stop_;
  }

  /// Loads the best snapshot into `model`; false (model untouched) when there is none to restore.
  template <class Model>
  bool restore_best(Model& model) const {
    if (!restore_best_weights_ || best_state_.empty()) return false;
    model.load_state_dict(best_state_);
    return true;
  }

  bool should_stop() const { return stop_; }
  double best_loss() const { return best_loss_; }
  /// 1-based epoch of the best loss (0 before any improvement).
  int64_t best_epoch() const { return best_epoch_; }
  int64_t counter() const { return counter_; }
  int64_t patience() const { return patience_; }
  double min_delta() const { return min_delta_; }
  bool restore_best_weights() const { return restore_best_weights_; }
  /// The snapshot of the best epoch's state (empty without restore_best_weights or before an improvement).
  const nn::StateDict<D>& best_state() const { return best_state_; }

 private:
  int64_t patience_;
  double min_delta_;
  bool restore_best_weights_;
  double best_loss_ = std::numeric_limits<double>::infinity();
  int64_t best_epoch_ = 0;
  int64_t counter_ = 0;
  int64_t epoch_ = 0;
  bool stop_ = false;
  nn::StateDict<D> best_state_;
};

}  // namespace hnn::optim
