// The batch-norm variants practitioners ask for, on the batch-norm op and its kernels (no second copy of
// the arithmetic):
//  - FrozenBatchNorm1d/2d/3d: torchvision's FrozenBatchNorm2d, a fixed per-channel affine map from
//    buffers, in train and eval alike; freeze_batch_norm swaps it in for every batch norm of a model
//    (detectron2's convert_frozen_batchnorm).
//  - GhostBatchNorm1d/2d: virtual batches in training, plain batch norm in eval.
//  - MaskedBatchNorm1d: statistics over the valid positions of padded (N, C, L) sequences.
// Depends on nn/batch_norm.hpp, nn/module.hpp.
#pragma once

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "hnn/core/format.hpp"
#include "hnn/core/parallel.hpp"
#include "hnn/nn/batch_norm.hpp"
#include "hnn/nn/module.hpp"

namespace hnn::nn {

// ---- frozen ------------------------------------------------------------------------------------------

/// The shared implementation of FrozenBatchNorm1d/2d/3d (torchvision.ops.misc.FrozenBatchNorm2d):
///   y = x * scale + shift,  scale = weight / sqrt(running_var + eps),  shift = bias - running_mean * scale,
/// in train and eval alike. weight, bias, running_mean and running_var are buffers, in that order (the
/// state-dict keys of a BatchNorm), never parameters: an optimiser given parameters() leaves them alone,
/// and train() does not bring batch statistics back. Gradients still flow to the input. Loading a
/// BatchNorm's state dict works: its num_batches_tracked is ignored, as torchvision's
/// _load_from_state_dict drops it. A batch of one is fine (no batch statistics are taken).
template <class Derived, class T = float, class D = CPU>
class FrozenBatchNormBase : public Cloneable<Derived, T, D> {
 public:
  using TensorType = Tensor<T, D>;

  explicit FrozenBatchNormBase(int64_t num_features, double eps = 1e-5) : eps_(eps) {
    HNN_CHECK(num_features > 0, "FrozenBatchNorm: num_features must be positive, got ", num_features);
    weight_ = this->register_buffer("weight", ones<T, D>({num_features}));
    bias_ = this->register_buffer("bias", zeros<T, D>({num_features}));
    running_mean_ = this->register_buffer("running_mean", zeros<T, D>({num_features}));
    running_var_ = this->register_buffer("running_var", ones<T, D>({num_features}));
  }

  /// The frozen form of a batch norm with running statistics: its eps, running_mean and running_var, and
  /// its weight and bias (1 and 0 when affine=false), copied.
  explicit FrozenBatchNormBase(const BatchNormInterface<T, D>& bn)
      : FrozenBatchNormBase(bn.options().num_features(), bn.options().eps()) {
    HNN_CHECK(bn.options().track_running_stats(),
              "FrozenBatchNorm: a batch norm with num_features=", bn.options().num_features(),
              " and track_running_stats=False has no running statistics to freeze");
    NoGradGuard guard;
    running_mean().copy_(bn.running_mean());
    running_var().copy_(bn.running_var());
    if (bn.weight().defined()) weight().copy_(bn.weight().detach());
    if (bn.bias().defined()) bias().copy_(bn.bias().detach());
  }

  TensorType forward(const TensorType& input) override {
    static_cast<const Derived*>(this)->check_input_dim(input);
    HNN_CHECK(input.size(1) == num_features(), this->name(), "(", num_features(), "): expected ",
              num_features(), " channels in dim 1, got input of shape ", input.shape());
    // The eval-mode batch-norm op is this affine map (computed per channel in double).
    return hnn::batch_norm(input, running_mean(), running_var(), weight(), bias(), /*training=*/false, 0.0,
                           eps_);
  }

  TensorType weight() const { return buffer_as_t(weight_); }
  TensorType bias() const { return buffer_as_t(bias_); }
  TensorType running_mean() const { return buffer_as_t(running_mean_); }
  TensorType running_var() const { return buffer_as_t(running_var_); }
  int64_t num_features() const { return running_mean().numel(); }
  double eps() const { return eps_; }

  /// torchvision's repr: "FrozenBatchNorm2d(3, eps=1e-05)".
  std::string extra_repr() const override {
    return std::to_string(num_features()) + ", eps=" + hnn::detail::py_float_repr(eps_);
  }

  /// A BatchNorm's state dict loads into its frozen form: its num_batches_tracked is not unexpected.
  bool ignores_state_key(const std::string& key) const override { return key == "num_batches_tracked"; }

 private:
  TensorType buffer_as_t(size_t slot) const { return this->buffer(slot).template as<T>(); }

  double eps_;
  size_t weight_ = 0, bias_ = 0, running_mean_ = 0, running_var_ = 0;
};

/// Frozen batch norm over (N, C) or (N, C, L) inputs.
template <class T = float, class D = CPU>
class FrozenBatchNorm1d : public FrozenBatchNormBase<FrozenBatchNorm1d<T, D>, T, D> {
  using Base = FrozenBatchNormBase<FrozenBatchNorm1d<T, D>, T, D>;

 public:
  explicit FrozenBatchNorm1d(int64_t num_features, double eps = 1e-5) : Base(num_features, eps) {}
  explicit FrozenBatchNorm1d(const BatchNormInterface<T, D>& bn) : Base(bn) {}
  std::string name() const override { return "FrozenBatchNorm1d"; }
  void check_input_dim(const Tensor<T, D>& input) const {
    HNN_CHECK(input.dim() == 2 || input.dim() == 3, "expected 2D or 3D input (got ", input.dim(), "D input)");
  }
};

/// Frozen batch norm over (N, C, H, W) inputs: torchvision's FrozenBatchNorm2d.
template <class T = float, class D = CPU>
class FrozenBatchNorm2d : public FrozenBatchNormBase<FrozenBatchNorm2d<T, D>, T, D> {
  using Base = FrozenBatchNormBase<FrozenBatchNorm2d<T, D>, T, D>;

 public:
  explicit FrozenBatchNorm2d(int64_t num_features, double eps = 1e-5) : Base(num_features, eps) {}
  explicit FrozenBatchNorm2d(const BatchNormInterface<T, D>& bn) : Base(bn) {}
  std::string name() const override { return "FrozenBatchNorm2d"; }
  void check_input_dim(const Tensor<T, D>& input) const {
    HNN_CHECK(input.dim() == 4, "expected 4D input (got ", input.dim(), "D input)");
  }
};

/// Frozen batch norm over (N, C, D, H, W) inputs.
template <class T = float, class D = CPU>
class FrozenBatchNorm3d : public FrozenBatchNormBase<FrozenBatchNorm3d<T, D>, T, D> {
  using Base = FrozenBatchNormBase<FrozenBatchNorm3d<T, D>, T, D>;

 public:
  explicit FrozenBatchNorm3d(int64_t num_features, double eps = 1e-5) : Base(num_features, eps) {}
  explicit FrozenBatchNorm3d(const BatchNormInterface<T, D>& bn) : Base(bn) {}
  std::string name() const override { return "FrozenBatchNorm3d"; }
  void check_input_dim(const Tensor<T, D>& input) const {
    HNN_CHECK(input.dim() == 5, "expected 5D input (got ", input.dim(), "D input)");
  }
};

// ---- ghost -------------------------------------------------------------------------------------------

/// Ghost batch norm (Hoffer et al. 2017, "Train longer, generalize better"): in training the batch is cut
/// into consecutive virtual batches of virtual_batch_size samples (the last may be shorter), each
/// normalised with its own statistics, and the running statistics are updated once per virtual batch, in
/// order. That is exactly a batch norm called on each chunk in turn, values and gradients alike
/// (pytorch-tabnet's GBN). Keras' virtual_batch_size instead averages the chunks' statistics into one
/// running update per call; hnn follows the chunked calls because then a ghost batch norm with a virtual
/// batch as large as the batch is BatchNorm itself, num_batches_tracked counts batches actually
/// normalised, momentum=None averages every virtual batch with equal weight, and the running statistics
/// estimate what eval sees. A last virtual batch of one sample follows the batch-of-one policy
/// (BatchNormOptions::batch_of_one). Eval is BatchNorm's eval: never virtual batches. The whole batch is
/// one op and one autograd node (batch_norm_chunks), with no copies.
template <class Derived, class T = float, class D = CPU>
class GhostBatchNormBase : public BatchNormBase<Derived, T, D> {
  using Base = BatchNormBase<Derived, T, D>;

 public:
  GhostBatchNormBase(BatchNormOptions options, int64_t virtual_batch_size)
      : Base(options), virtual_batch_size_(virtual_batch_size) {
    HNN_CHECK(virtual_batch_size > 0, "GhostBatchNorm: virtual_batch_size must be positive, got ",
              virtual_batch_size);
  }

  Tensor<T, D> forward(const Tensor<T, D>& input) override {
    return this->forward_in_chunks(input, virtual_batch_size_,
                                   this->name() +
                                       "(virtual_batch_size=" + std::to_string(virtual_batch_size_) +
                                       ") on input of shape " + hnn::detail::concat(input.shape()) + ": ");
  }

  int64_t virtual_batch_size() const { return virtual_batch_size_; }

  std::string extra_repr() const override {
    return Base::extra_repr() + ", virtual_batch_size=" + std::to_string(virtual_batch_size_);
  }

 private:
  int64_t virtual_batch_size_;
};

/// Ghost batch norm over (N, C) or (N, C, L) inputs.
template <class T = float, class D = CPU>
class GhostBatchNorm1d : public GhostBatchNormBase<GhostBatchNorm1d<T, D>, T, D> {
 public:
  GhostBatchNorm1d(BatchNormOptions options, int64_t virtual_batch_size)
      : GhostBatchNormBase<GhostBatchNorm1d<T, D>, T, D>(options, virtual_batch_size) {}
  std::string name() const override { return "GhostBatchNorm1d"; }
  int64_t batch_norm_dims() const override { return 1; }
  void check_input_dim(const Tensor<T, D>& input) const {
    HNN_CHECK(input.dim() == 2 || input.dim() == 3, "expected 2D or 3D input (got ", input.dim(), "D input)");
  }
};

/// Ghost batch norm over (N, C, H, W) inputs.
template <class T = float, class D = CPU>
class GhostBatchNorm2d : public GhostBatchNormBase<GhostBatchNorm2d<T, D>, T, D> {
 public:
  GhostBatchNorm2d(BatchNormOptions options, int64_t virtual_batch_size)
      : GhostBatchNormBase<GhostBatchNorm2d<T, D>, T, D>(options, virtual_batch_size) {}
  std::string name() const override { return "GhostBatchNorm2d"; }
  int64_t batch_norm_dims() const override { return 2; }
  void check_input_dim(const Tensor<T, D>& input) const {
    HNN_CHECK(input.dim() == 4, "expected 4D input (got ", input.dim(), "D input)");
  }
};

// ---- masked ------------------------------------------------------------------------------------------

namespace detail {

/// The valid positions of a padded (N, C, L) batch: sample n's are packed rows [first[n], first[n + 1]),
/// at positions position[k] along L.
struct MaskedPositions {
  int64_t N = 0, C = 0, L = 0;
  std::vector<int64_t> first, position;
  int64_t count() const { return static_cast<int64_t>(position.size()); }
};

/// pack: x (N, C, L) -> its valid positions as rows (M, C); unpack: rows (M, C) -> (N, C, L) with zeros at
/// the padding. Each is the other's adjoint. One pass each, parallel over samples; on a device the data
/// moves through the host (there is no device gather kernel yet).
template <class T, class D>
Tensor<T, D> move_positions(const Tensor<T, D>& src, const MaskedPositions& at, bool pack) {
  const int64_t N = at.N, C = at.C, L = at.L;
  auto host = src.detach().contiguous().template to<CPU>();
  auto out = pack ? Tensor<T, CPU>::empty({at.count(), C}) : zeros<T, CPU>({N, C, L});
  const T* from = host.data();
  T* to = out.data();
  auto move = [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      for (int64_t c = 0; c < C; ++c) {
        const int64_t plane = (n * C + c) * L;
        for (int64_t k = at.first[static_cast<size_t>(n)]; k < at.first[static_cast<size_t>(n) + 1]; ++k) {
          const int64_t l = at.position[static_cast<size_t>(k)];
          if (pack)
            to[k * C + c] = from[plane + l];
          else
            to[plane + l] = from[k * C + c];
        }
      }
  };
  parallel_for(N, std::max<int64_t>(1, parallel_grain / std::max<int64_t>(1, C * L)), move);
  if constexpr (is_cpu_v<D>)
    return out;
  else
    return out.template to<D>();
}

/// move_positions with autograd: the backward of a pack is the unpack of the gradient, and back.
template <class T, class D>
Tensor<T, D> move_positions_op(const Tensor<T, D>& src, std::shared_ptr<const MaskedPositions> at,
                               bool pack) {
  auto out = move_positions(src, *at, pack);
  if (autograd::any_requires_grad(src)) {
    autograd::record<T, D>(pack ? "MaskedPackBackward" : "MaskedUnpackBackward", out, {src},
                           [at, pack](const Tensor<T, D>& grad, const std::vector<bool>&) {
                             return std::vector<Tensor<T, D>>{move_positions_op(grad, at, !pack)};
                           });
  }
  return out;
}

}  // namespace detail

/// Batch norm over (N, C, L) sequences with padding: forward(x, mask) takes mask, a Tensor<int64_t> of
/// shape (N, L) with 1 at valid positions and 0 at padding. The statistics, the running updates and the
/// normalisation cover the valid positions only; outputs and input gradients at padded positions are 0.
/// It equals BatchNorm1d applied to the (M, C) matrix of the M valid positions (values, buffers,
/// gradients), which is how it is computed: gather the valid positions, the batch-norm op on them,
/// scatter back. forward(x) without a mask is BatchNorm1d. In eval the running statistics normalise the
/// valid positions and padding stays 0. freeze_batch_norm leaves it alone (a frozen layer has no mask).
template <class T = float, class D = CPU>
class MaskedBatchNorm1d : public BatchNormBase<MaskedBatchNorm1d<T, D>, T, D> {
  using Base = BatchNormBase<MaskedBatchNorm1d<T, D>, T, D>;

 public:
  explicit MaskedBatchNorm1d(BatchNormOptions options) : Base(options) {}
  explicit MaskedBatchNorm1d(int64_t num_features) : MaskedBatchNorm1d(BatchNormOptions(num_features)) {}
  std::string name() const override { return "MaskedBatchNorm1d"; }
  int64_t batch_norm_dims() const override { return 0; }
  void check_input_dim(const Tensor<T, D>& input) const {
    HNN_CHECK(input.dim() == 2 || input.dim() == 3, "expected 2D or 3D input (got ", input.dim(), "D input)");
  }

  using Base::forward;

  Tensor<T, D> forward(const Tensor<T, D>& input, const Tensor<int64_t, D>& mask) {
    HNN_CHECK(input.dim() == 3, "MaskedBatchNorm1d: expected input (N, C, L) with a mask, got shape ",
              input.shape());
    const int64_t N = input.size(0), C = input.size(1), L = input.size(2);
    HNN_CHECK(C == this->options().num_features(), "MaskedBatchNorm1d(", this->options().num_features(),
              "): expected ", this->options().num_features(), " channels in dim 1, got input of shape ",
              input.shape());
    HNN_CHECK(mask.dim() == 2 && mask.size(0) == N && mask.size(1) == L,
              "MaskedBatchNorm1d: the mask must have shape (N, L) = ", Shape{N, L}, " for input of shape ",
              input.shape(), ", got ", mask.shape());
    const std::vector<int64_t> flags = mask.contiguous().to_vector();
    auto at = std::make_shared<detail::MaskedPositions>();
    at->N = N;
    at->C = C;
    at->L = L;
    at->first.reserve(static_cast<size_t>(N) + 1);
    for (int64_t p = 0; p < N * L; ++p) {
      if (p % L == 0) at->first.push_back(at->count());
      const int64_t v = flags[static_cast<size_t>(p)];
      HNN_CHECK(v == 0 || v == 1, "MaskedBatchNorm1d: mask values must be 0 (padding) or 1 (valid), got ", v,
                " at [", p / L, ", ", p % L, "]");
      if (v) at->position.push_back(p % L);
    }
    while (static_cast<int64_t>(at->first.size()) <= N) at->first.push_back(at->count());
    // The M valid positions as (M, C) rows -> the batch-norm op -> back to (N, C, L), padding 0.
    auto packed = detail::move_positions_op<T, D>(input, at, /*pack=*/true);
    return detail::move_positions_op<T, D>(Base::forward(packed), at, /*pack=*/false);
  }
};

// ---- freezing a model --------------------------------------------------------------------------------

namespace detail {

/// The frozen layer of `bn`'s rank (FrozenBatchNorm2d for a SyncBatchNorm built directly, as detectron2
/// maps SyncBatchNorm), in `bn`'s mode.
template <class T, class D>
std::shared_ptr<Module<T, D>> frozen_batch_norm(const BatchNormInterface<T, D>& bn, bool training) {
  std::shared_ptr<Module<T, D>> out;
  switch (bn.batch_norm_dims()) {
    case 1:
      out = std::make_shared<FrozenBatchNorm1d<T, D>>(bn);
      break;
    case 3:
      out = std::make_shared<FrozenBatchNorm3d<T, D>>(bn);
      break;
    default:
      out = std::make_shared<FrozenBatchNorm2d<T, D>>(bn);
      break;
  }
  out->train(training);
  return out;
}

}  // namespace detail

}  // namespace hnn::nn

namespace hnn::nn::utils {

/// Replaces, in place and at any depth, every batch norm below `module` (BatchNorm1d/2d/3d,
/// SyncBatchNorm, GhostBatchNorm1d/2d) by the frozen layer of its rank holding copies of its running
/// statistics, eps and affine parameters (weight 1 and bias 0 when affine=false): detectron2's
/// FrozenBatchNorm2d.convert_frozen_batchnorm, done in place. MaskedBatchNorm1d stays (its forward takes
/// a mask). A batch norm without running statistics cannot be frozen: std::invalid_argument naming its
/// path, and nothing is replaced. `module` itself is never replaced: a root that is a batch norm is
/// refused (construct FrozenBatchNorm2d(bn) for a lone batch norm). Optimisers holding the old parameters
/// must be rebuilt: the frozen layers have none. Returns `module`.
template <class T, class D>
Module<T, D>& freeze_batch_norm(Module<T, D>& module) {
  auto freezable = [](Module<T, D>* m) -> const BatchNormInterface<T, D>* {
    auto* bn = dynamic_cast<const BatchNormInterface<T, D>*>(m);
    return bn && bn->batch_norm_dims() != 0 ? bn : nullptr;
  };
  HNN_CHECK(freezable(&module) == nullptr, "freeze_batch_norm: the module itself is a ", module.name(),
            "; only the modules below it are replaced in place (construct FrozenBatchNorm",
            freezable(&module) ? std::to_string(freezable(&module)->batch_norm_dims()) : std::string(),
            "d(bn) for a lone batch norm)");
  // Check every batch norm first, so that a refusal leaves the model as it was.
  for (const auto& [path, m] : module.named_modules())
    if (const auto* bn = freezable(m))
      HNN_CHECK(bn->options().track_running_stats(), "freeze_batch_norm: the ", m->name(), " at '", path,
                "' has track_running_stats=False: no running statistics to freeze");
  auto replace = [&freezable](auto& self, Module<T, D>& parent) -> void {
    const auto children = parent.named_children();
    for (const auto& [name, child] : children) {
      if (const auto* bn = freezable(child.get()))
        parent.replace_child(name, hnn::nn::detail::frozen_batch_norm<T, D>(*bn, child->is_training()));
      else
        self(self, *child);
    }
  };
  replace(replace, module);
  return module;
}

}  // namespace hnn::nn::utils
