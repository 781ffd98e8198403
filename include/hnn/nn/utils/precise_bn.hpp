// recalibrate_batch_norm: "precise BN" (Wu & Johnson, "Rethinking Batch in BatchNorm", 2021) — recomputes
// every batch norm's running statistics for the final weights as a true average over some training batches.
// Depends on nn/batch_norm.hpp and autograd/grad_mode.hpp; the loader is anything range-for yields .data
// from.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "hnn/autograd/grad_mode.hpp"
#include "hnn/nn/batch_norm.hpp"

namespace hnn::nn::utils {

namespace detail {

/// Every batch norm of the model (BatchNorm1d/2d/3d and SyncBatchNorm), in named_modules() order.
template <class T, class D, class Fn>
void for_each_batch_norm(Module<T, D>& model, Fn fn) {
  for (auto& [name, module] : model.named_modules())
    if (auto* bn = dynamic_cast<BatchNormInterface<T, D>*>(module)) fn(*bn);
}

}  // namespace detail

/// Why: with momentum 0.1 the running statistics are an exponential average over the last ~10 batches
/// of *changing* weights. With a large learning rate (LeNet-BN's SGD 0.9) the weights move faster than
/// the average follows, so eval mode normalises with stale statistics and test accuracy swings by
/// several points from epoch to epoch, although the training loss falls smoothly. Recomputing the
/// statistics with the final weights — reset, then a cumulative average (momentum = None) over
/// `max_batches` training batches in training mode, no gradients — removes that lag.
///
/// Only modules with track_running_stats are touched; their momentum option is restored afterwards and
/// num_batches_tracked ends equal to the number of batches averaged. The model's train/eval mode is
/// restored. Returns the number of batches used.
template <class T, class D, class Loader>
int64_t recalibrate_batch_norm(Module<T, D>& model, Loader& loader, int64_t max_batches) {
  std::vector<std::optional<double>> momenta;
  detail::for_each_batch_norm(model, [&](auto& bn) {
    momenta.push_back(bn.options().momentum());
    if (!bn.options().track_running_stats()) return;
    bn.reset_running_stats();
    bn.mutable_options().momentum(std::nullopt);
  });
  const bool was_training = model.is_training();
  model.train();
  int64_t used = 0;
  {
    NoGradGuard no_grad;
    for (const auto& batch : loader) {
      if (used >= max_batches) break;
      model(batch.data);
      ++used;
    }
  }
  model.train(was_training);
  size_t i = 0;
  detail::for_each_batch_norm(model, [&](auto& bn) { bn.mutable_options().momentum(momenta[i++]); });
  return used;
}

}  // namespace hnn::nn::utils
