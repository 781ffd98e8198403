// The synchronised batch-norm op (training mode): statistics over the union of every rank's batch, and
// its backward with globally reduced sums, on any device with batch-norm kernels. The arithmetic is the
// device's BatchNormKernels passes (statistics, normalise, running update, backward reduce and elementwise)
// and batch_norm_math's formulas; this file only adds the two collectives, whose per-channel buffers go
// through the host (MPI here is not CUDA-aware). Depends on distributed/process_group.hpp,
// ops/batch_norm.hpp.
#pragma once

#include <memory>
#include <vector>

#include "hnn/autograd/function.hpp"
#include "hnn/distributed/process_group.hpp"
#include "hnn/ops/batch_norm.hpp"
#include "hnn/ops/creation.hpp"

namespace hnn::distributed {

/*
 * Forward. Each rank takes its partial statistics (n_r = N_r * S, mean_r, M2_r) per channel with
 * the stats pass (chunked about a pivot on CPU, Welford on CUDA: no sum of squares), one MPI_Allgather of
 * [n_r, mean_r[C], M2_r[C]] gives every rank every partial, and every rank merges them in rank order with
 * Chan's update n = n_a + n_b,  delta = mean_b - mean_a,  mean = mean_a + delta n_b / n,  M2 = M2_a + M2_b +
 * delta^2 n_a n_b / n, so all ranks hold bit-identical global (M, mean, M2). Normalising uses the biased
 * variance M2 / M (invstd = 1 / sqrt(M2 / M + eps)); running_var takes the unbiased M2 / (M - 1), as
 * PyTorch's batch_norm_gather_stats_with_counts does. Ranks may hold different (even zero) batch sizes.
 *
 * Backward. With xhat = (x - mean) invstd over the global batch, the gradient of rank r's slice is
 *     dx = weight invstd (dy - sum(dy) / M - (x - mean) invstd^2 sum(dy (x - mean)) / M)
 * where both sums run over all ranks: the backward_reduce pass gives the local sums, one
 * MPI_Allreduce of 2C doubles makes them global, the backward_elemt pass writes dx with count M.
 * grad_weight = invstd * sum(dy (x - mean)) and grad_bias = sum(dy) stay local (before the all-reduce):
 * their sum over ranks is batch norm's, and DistributedDataParallel averages them with the other
 * gradients, as PyTorch's SyncBatchNorm does.
 *
 * Every rank must call forward (and, when an input requires grad, backward) the same number of times:
 * they are collectives.
 */
template <class T, class D>
Tensor<T, D> sync_batch_norm(const Tensor<T, D>& input, const Tensor<T, D>& running_mean,
                             const Tensor<T, D>& running_var, const Tensor<T, D>& weight,
                             const Tensor<T, D>& bias, double momentum, double eps) {
  static_assert(std::is_floating_point_v<T>, "sync_batch_norm needs a floating point tensor");
  using Kernels = BatchNormKernels<D>;
  detail::require_group("sync_batch_norm");
  HNN_CHECK(input.dim() >= 2,
            "sync_batch_norm: expected an input with at least 2 dimensions (N, C, ...), got shape ",
            input.shape());
  const int64_t N = input.size(0), C = input.size(1);
  hnn::detail::check_batch_norm_param("running_mean", running_mean, C);
  hnn::detail::check_batch_norm_param("running_var", running_var, C);
  hnn::detail::check_batch_norm_param("weight", weight, C);
  hnn::detail::check_batch_norm_param("bias", bias, C);
  HNN_CHECK(C > 0, "sync_batch_norm: the input has no channels (shape ", input.shape(), ")");

  // Spatial size from the shape itself, so an empty local batch (N = 0) still knows S.
  int64_t spatial = 1;
  for (int64_t d = 2; d < input.dim(); ++d) spatial *= input.size(d);
  const int64_t local_count = N * spatial;

  Tensor<T, D> x = input.is_contiguous() ? input.detach() : input.detach().contiguous();
  // Partial statistics [count, mean[C], M2[C]], taken on the device and gathered through the host.
  auto local = Tensor<double, D>::empty({2 * C});
  Kernels::stats(x.data(), N, C, spatial, local.data(), local.data() + C);
  const std::vector<double> local_stats = local.template to<CPU>().to_vector();
  std::vector<double> partial{static_cast<double>(local_count)};
  partial.insert(partial.end(), local_stats.begin(), local_stats.end());
  const auto width = partial.size();
  const std::vector<double> all = detail::allgather_doubles(partial.data(), static_cast<int>(width));
  const size_t world = all.size() / width;

  // Every rank merges the same partials in rank order: bit-identical global statistics everywhere.
  std::vector<double> mean(static_cast<size_t>(C)), m2(static_cast<size_t>(C)),
      invstd(static_cast<size_t>(C));
  double total = 0;
  for (int64_t c = 0; c < C; ++c) {
    double merged_count = 0, merged_mean = 0, merged_m2 = 0;
    for (size_t r = 0; r < world; ++r) {
      const double* p = all.data() + r * width;
      batch_norm_math::chan_merge(merged_count, merged_mean, merged_m2, p[0], p[1 + c], p[1 + C + c]);
    }
    total = merged_count;
    mean[static_cast<size_t>(c)] = merged_mean;
    m2[static_cast<size_t>(c)] = merged_m2;
  }
  const auto global_count = static_cast<int64_t>(total);
  // Checked after the gather, so every rank reaches the same verdict.
  HNN_CHECK(global_count > 1,
            "SyncBatchNorm: expected more than 1 value per channel when training over all ranks, "
            "got ",
            global_count, " (this rank's input shape ", input.shape(), ")");
  for (size_t c = 0; c < invstd.size(); ++c) invstd[c] = batch_norm_math::invstd(m2[c], total, eps);

  auto saved = std::make_shared<hnn::detail::BatchNormSaved<D>>();
  saved->mean = tensor<double>(mean).template to<D>();
  saved->invstd = tensor<double>(invstd).template to<D>();
  auto out = Tensor<T, D>::empty(input.shape());
  const T* weight_data = weight.defined() ? weight.data() : nullptr;
  const T* bias_data = bias.defined() ? bias.data() : nullptr;
  Kernels::elemt(x.data(), out.data(), N, C, spatial, saved->mean.data(), saved->invstd.data(), weight_data,
                 bias_data);
  if (running_mean.defined() || running_var.defined()) {
    const auto global_m2 = tensor<double>(m2).template to<D>();
    Kernels::update_running(running_mean.defined() ? running_mean.data() : nullptr,
                            running_var.defined() ? running_var.data() : nullptr, saved->mean.data(),
                            global_m2.data(), C, global_count, momentum);
  }

  if (autograd::any_requires_grad(input, weight, bias)) {
    autograd::record<T, D>(
        "SyncBatchNormBackward", out, {input, weight, bias},
        [x, weight = weight.defined() ? weight.detach() : Tensor<T, D>(), saved, invstd, N, C, spatial,
         global_count](const Tensor<T, D>& grad_out, const std::vector<bool>& need) {
          std::vector<Tensor<T, D>> grads(3);
          Tensor<T, D> dy = grad_out.contiguous();
          auto local_sums = Tensor<double, D>::empty({2 * C});  // sum dy, sum dy (x - mean)
          Kernels::backward_reduce(dy.data(), x.data(), N, C, spatial, saved->mean.data(), local_sums.data(),
                                   local_sums.data() + C);
          // Through the host: grad_weight and grad_bias are C values each, and the all-reduce needs them
          // there.
          std::vector<double> sums = local_sums.template to<CPU>().to_vector();
          if (need[1]) {
            std::vector<T> grad_weight(static_cast<size_t>(C));
            for (size_t c = 0; c < grad_weight.size(); ++c)
              grad_weight[c] = static_cast<T>(batch_norm_math::grad_weight(sums[C + c], invstd[c]));
            grads[1] = tensor<T>(grad_weight).template to<D>();
          }
          if (need[2]) {
            const std::vector<T> grad_bias(sums.begin(), sums.begin() + C);
            grads[2] = tensor<T>(grad_bias).template to<D>();
          }
          if (need[0]) {
            detail::allreduce_raw(sums.data(), 2 * C, MPI_SUM);
            const auto global_sums = tensor<double>(sums).template to<D>();
            grads[0] = Tensor<T, D>::empty(x.shape());
            Kernels::backward_elemt(dy.data(), x.data(), grads[0].data(), N, C, spatial, saved->mean.data(),
                                    saved->invstd.data(), weight.defined() ? weight.data() : nullptr,
                                    global_sums.data(), global_sums.data() + C, global_count);
          }
          return grads;
        });
  }
  return out;
}

}  // namespace hnn::distributed
