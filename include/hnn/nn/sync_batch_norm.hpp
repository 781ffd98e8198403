// SyncBatchNorm: batch norm whose training statistics cover the union of every rank's batch (PyTorch's
// torch.nn.SyncBatchNorm), and convert_sync_batchnorm, which swaps it in for every BatchNorm1d/2d/3d of a
// model in place. Depends on nn/batch_norm.hpp, distributed/sync_batch_norm.hpp (needs HNN_WITH_MPI).
#pragma once

#include <memory>
#include <string>

#include "hnn/distributed/process_group.hpp"
#include "hnn/distributed/sync_batch_norm.hpp"
#include "hnn/nn/batch_norm.hpp"
#include "hnn/nn/module.hpp"

namespace hnn::nn {

/// Batch norm over any input (N, C, *) of rank >= 2. In training, with the process group initialised and
/// more than one rank, mean and biased variance are taken over all ranks' batches together (ranks may
/// hold different batch sizes) and running_var is updated with the unbiased global variance; each rank's
/// input gradient is its slice of batch norm's gradient on the concatenated batch, while weight and bias
/// gradients stay local (DistributedDataParallel averages them). In eval mode, on one rank, or without a
/// process group it is plain batch norm (PyTorch falls back the same way). Same options, parameters,
/// buffers and state-dict keys as BatchNorm2d.
template <class T = float, class D = CPU>
class SyncBatchNorm : public BatchNormBase<SyncBatchNorm<T, D>, T, D> {
  using Base = BatchNormBase<SyncBatchNorm<T, D>, T, D>;

 public:
  explicit SyncBatchNorm(BatchNormOptions options) : Base(options) {}
  explicit SyncBatchNorm(int64_t num_features) : SyncBatchNorm(BatchNormOptions(num_features)) {}

  /// A SyncBatchNorm sharing `bn`'s parameters and buffers (the same tensors: an optimiser holding them
  /// keeps working), options and training mode: what convert_sync_batchnorm puts in its place.
  template <class Derived>
  explicit SyncBatchNorm(const BatchNormBase<Derived, T, D>& bn)
      : Base(bn.options()), dims_(bn.batch_norm_dims()) {
    // BatchNormBase registers weight, bias (slots 0, 1) and running_mean, running_var,
    // num_batches_tracked (buffer slots 0, 1, 2) in PyTorch's order, undefined ones included.
    this->parameter(0) = bn.weight();
    this->parameter(1) = bn.bias();
    this->buffer(0) = AnyTensor<D>(bn.running_mean());
    this->buffer(1) = AnyTensor<D>(bn.running_var());
    for (const auto& [name, buf] : bn.named_buffers(false))
      if (name == "num_batches_tracked") this->buffer(2) = buf;
    this->train(bn.is_training());
  }

  std::string name() const override { return "SyncBatchNorm"; }
  /// The rank of the batch norm this one was built from (2 when built directly, as detectron2 freezes a
  /// SyncBatchNorm into a FrozenBatchNorm2d).
  int64_t batch_norm_dims() const override { return dims_; }

  void check_input_dim(const Tensor<T, D>& input) const {
    HNN_CHECK(input.dim() >= 2, "SyncBatchNorm: expected at least 2D input (got ", input.dim(),
              "D input of shape ", input.shape(), ")");
  }

  Tensor<T, D> forward(const Tensor<T, D>& input) override {
    const bool sync =
        this->is_training() && distributed::is_initialized() && distributed::get_world_size() > 1;
    if (!sync) return Base::forward(input);
    check_input_dim(input);
    const auto& options = this->options();
    HNN_CHECK(input.size(1) == options.num_features(), "SyncBatchNorm(", options.num_features(),
              "): expected an input with ", options.num_features(), " channels, got shape ", input.shape());
    // momentum = None is the cumulative average: factor 1 / num_batches_tracked after the increment
    // (counted on the host: no read back of a device buffer).
    const double factor = this->count_training_batch();
    return distributed::sync_batch_norm(input, this->running_mean(), this->running_var(), this->weight(),
                                        this->bias(), factor, options.eps());
  }

 private:
  int64_t dims_ = 2;
};

namespace detail {

/// The SyncBatchNorm replacing `child` when it is a BatchNorm1d/2d/3d, else null.
template <class T, class D>
std::shared_ptr<Module<T, D>> as_sync_batchnorm(Module<T, D>& child) {
  if (auto* bn = dynamic_cast<BatchNorm1d<T, D>*>(&child)) return std::make_shared<SyncBatchNorm<T, D>>(*bn);
  if (auto* bn = dynamic_cast<BatchNorm2d<T, D>*>(&child)) return std::make_shared<SyncBatchNorm<T, D>>(*bn);
  if (auto* bn = dynamic_cast<BatchNorm3d<T, D>*>(&child)) return std::make_shared<SyncBatchNorm<T, D>>(*bn);
  return nullptr;
}

}  // namespace detail

/// Replaces, in place and at any depth, every BatchNorm1d/2d/3d below `module` by a SyncBatchNorm that
/// shares its parameters and buffers and keeps its options and mode (torch.nn.SyncBatchNorm.
/// convert_sync_batchnorm). Parameters handed to an optimiser before the call stay the model's.
/// A root that is itself a BatchNorm cannot be replaced in place: construct SyncBatchNorm(bn) instead.
template <class T, class D>
Module<T, D>& convert_sync_batchnorm(Module<T, D>& module) {
  HNN_CHECK(detail::as_sync_batchnorm(module) == nullptr, "convert_sync_batchnorm: the module itself is a ",
            module.name(),
            "; it can only replace children in place (use SyncBatchNorm(bn) for a lone batch norm)");
  std::vector<std::pair<std::string, std::shared_ptr<Module<T, D>>>> children = module.named_children();
  for (auto& [name, child] : children) {
    if (auto sync = detail::as_sync_batchnorm(*child))
      module.replace_child(name, std::move(sync));
    else
      convert_sync_batchnorm(*child);
  }
  return module;
}

}  // namespace hnn::nn
