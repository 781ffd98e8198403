// BatchNorm1d/2d/3d: batch normalization modules with PyTorch's options, parameters (weight, bias),
// buffers (running_mean, running_var, num_batches_tracked), semantics and repr. One base template holds
// everything; the subclasses only check the input rank. Depends on nn/module.hpp,
// nn/functional/batch_norm.hpp.
#pragma once

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "hnn/core/format.hpp"
#include "hnn/nn/functional/batch_norm.hpp"
#include "hnn/nn/module.hpp"

namespace hnn::nn {

/// What a batch norm in training does with a batch holding one value per channel (a batch of one sample
/// for (N, C) input, typically the last, ragged batch of an epoch), where the batch variance is undefined.
enum class BatchOfOne {
  /// PyTorch's behaviour: std::invalid_argument "Expected more than 1 value per channel when training".
  error,
  /// Normalise that batch with the running statistics, as eval mode would, and leave running_mean,
  /// running_var and num_batches_tracked as they are. Needs track_running_stats.
  use_running_stats,
};

/// Options of BatchNorm1d/2d/3d (and SyncBatchNorm). Setters chain; getters share the name.
class BatchNormOptions {
 public:
  /// num_features: C of an input (N, C, ...). Fixed at construction.
  BatchNormOptions(int64_t num_features) : num_features_(num_features) {}  // NOLINT: implicit like libtorch

  int64_t num_features() const { return num_features_; }
  /// Added to the variance before the square root. Default 1e-5; may be changed after construction.
  BatchNormOptions& eps(double v) {
    eps_ = v;
    return *this;
  }
  double eps() const { return eps_; }
  /// Weight of the batch statistic in the running average; std::nullopt = cumulative average
  /// (factor 1 / num_batches_tracked). Default 0.1; may be changed after construction.
  BatchNormOptions& momentum(std::optional<double> v) {
    momentum_ = v;
    return *this;
  }
  std::optional<double> momentum() const { return momentum_; }
  /// Learnable per-channel weight (gamma, init 1) and bias (beta, init 0). Default true; fixed at
  /// construction.
  BatchNormOptions& affine(bool v) {
    affine_ = v;
    return *this;
  }
  bool affine() const { return affine_; }
  /// Keep running_mean / running_var / num_batches_tracked and use them in eval mode. Default true;
  /// fixed at construction.
  BatchNormOptions& track_running_stats(bool v) {
    track_running_stats_ = v;
    return *this;
  }
  bool track_running_stats() const { return track_running_stats_; }
  /// The batch-of-one policy (not in PyTorch, whose behaviour is the default, BatchOfOne::error). Explicit
  /// and per module: the batch size never silently switches a module between training and evaluation.
  /// May be changed after construction.
  BatchNormOptions& batch_of_one(BatchOfOne v) {
    batch_of_one_ = v;
    return *this;
  }
  BatchOfOne batch_of_one() const { return batch_of_one_; }

 private:
  int64_t num_features_;
  double eps_ = 1e-5;
  std::optional<double> momentum_ = 0.1;
  bool affine_ = true;
  bool track_running_stats_ = true;
  BatchOfOne batch_of_one_ = BatchOfOne::error;
};

/// What every batch norm module (BatchNorm1d/2d/3d, SyncBatchNorm) offers, whatever its concrete type:
/// code that walks a model (precise BN, monitors) finds them all with one dynamic_cast to this.
template <class T = float, class D = CPU>
class BatchNormInterface {
 public:
  virtual ~BatchNormInterface() = default;
  virtual const BatchNormOptions& options() const = 0;
  virtual BatchNormOptions& mutable_options() = 0;
  virtual void reset_running_stats() = 0;
  virtual Tensor<T, D> running_mean() const = 0;
  virtual Tensor<T, D> running_var() const = 0;
  virtual Tensor<T, D> weight() const = 0;
  virtual Tensor<T, D> bias() const = 0;
  /// The N of the BatchNormNd this module stands for (1, 2 or 3): which FrozenBatchNormNd
  /// freeze_batch_norm puts in its place. 0: not to be frozen (MaskedBatchNorm1d, whose forward needs
  /// its mask).
  virtual int64_t batch_norm_dims() const { return 2; }
};

/// The shared implementation of BatchNorm1d/2d/3d. Derived supplies name() and check_input_dim().
template <class Derived, class T = float, class D = CPU>
class BatchNormBase : public Cloneable<Derived, T, D>, public BatchNormInterface<T, D> {
 public:
  using TensorType = Tensor<T, D>;

  explicit BatchNormBase(BatchNormOptions options) : options_(options) {
    HNN_CHECK(options_.num_features() > 0, "BatchNorm: num_features must be positive, got ",
              options_.num_features());
    if (options_.batch_of_one() == BatchOfOne::use_running_stats && !options_.track_running_stats())
      throw std::invalid_argument(
          "BatchNorm: batch_of_one(BatchOfOne::use_running_stats) needs running statistics, but "
          "track_running_stats is false");
    const int64_t C = options_.num_features();
    // Registered in PyTorch's order, with undefined placeholders so state-dict keys never move.
    weight_ = this->register_parameter("weight", options_.affine() ? ones<T, D>({C}) : TensorType());
    bias_ = this->register_parameter("bias", options_.affine() ? zeros<T, D>({C}) : TensorType());
    const bool track = options_.track_running_stats();
    running_mean_ = this->register_buffer("running_mean", track ? zeros<T, D>({C}) : TensorType());
    running_var_ = this->register_buffer("running_var", track ? ones<T, D>({C}) : TensorType());
    const auto count = track ? zeros<int64_t, D>(Shape{}) : Tensor<int64_t, D>();
    num_batches_tracked_ = this->register_buffer("num_batches_tracked", count);
    host_batches_tracked_of_ = count;  // the host's copy starts valid: 0
  }

  TensorType forward(const TensorType& input) override { return forward_in_chunks(input, 0); }
  /// gamma and beta; undefined when affine=false.
  TensorType weight() const override { return this->parameter(weight_); }
  TensorType bias() const override { return this->parameter(bias_); }
  /// Undefined when track_running_stats=false.
  TensorType running_mean() const override { return buffer_as_t(running_mean_); }
  TensorType running_var() const override { return buffer_as_t(running_var_); }
  /// The number of training forwards seen (0 when statistics are not tracked). Reads the buffer (so it
  /// sees a value written into it from outside, e.g. by load_state_dict) and refreshes the host's copy.
  int64_t num_batches_tracked() const {
    const auto& b = this->buffer(num_batches_tracked_);
    if (!b.defined()) return 0;
    const auto count = b.template as<int64_t>();
    host_batches_tracked_ = count.item();
    host_batches_tracked_of_ = count;
    return host_batches_tracked_;
  }
  const BatchNormOptions& options() const override { return options_; }
  /// Changes eps / momentum after construction (the options documented as changeable).
  BatchNormOptions& mutable_options() override { return options_; }

  /// running_mean = 0, running_var = 1, num_batches_tracked = 0, in place.
  void reset_running_stats() override {
    if (!options_.track_running_stats()) return;
    NoGradGuard guard;
    running_mean().fill_(T(0));
    running_var().fill_(T(1));
    set_batches_tracked(0);
  }
  /// Resets the running statistics and sets weight = 1, bias = 0.
  void reset_parameters() {
    reset_running_stats();
    if (!options_.affine()) return;
    NoGradGuard guard;
    weight().fill_(T(1));
    bias().fill_(T(0));
  }

  /// Also drops the host's copy of num_batches_tracked, so the next training step reads the buffer once:
  /// a write into the buffer from outside (through named_buffers(), say) is seen after the next mode
  /// switch (one read per train()/eval(), none per step).
  void train(bool on = true) override {
    host_batches_tracked_of_ = Tensor<int64_t, D>();
    Cloneable<Derived, T, D>::train(on);
  }

  /// load_state_dict, on this module or on any module holding it, wrote num_batches_tracked in place:
  /// the host's copy is dropped, so the next training step reads the loaded buffer once.
  void on_state_loaded() override { host_batches_tracked_of_ = Tensor<int64_t, D>(); }
  /// A state dict without num_batches_tracked loads with the counter at 0, not as a missing key: PyTorch
  /// 1.13's rule for state dicts without version metadata (built by hand, read from safetensors).
  bool defaults_missing_state_key(const std::string& key) const override {
    return key == "num_batches_tracked";
  }

  std::string extra_repr() const override {
    std::string momentum = options_.momentum() ? detail::py_float_repr(*options_.momentum()) : "None";
    std::string out = std::to_string(options_.num_features()) +
                      ", eps=" + detail::py_float_repr(options_.eps()) + ", momentum=" + momentum +
                      ", affine=" + detail::py_bool(options_.affine()) +
                      ", track_running_stats=" + detail::py_bool(options_.track_running_stats());
    if (options_.batch_of_one() == BatchOfOne::use_running_stats) out += ", batch_of_one=use_running_stats";
    return out;
  }

 protected:
  /// The forward of every batch norm module. In training with `chunk` > 0 the batch is cut into
  /// consecutive runs of `chunk` samples (the last may be shorter), each normalised with its own
  /// statistics and counted as one training batch, in order: exactly this module called on each run in
  /// turn (ghost batch norm). chunk = 0: the whole batch at once. `what` names the caller in messages.
  TensorType forward_in_chunks(const TensorType& input, int64_t chunk, const std::string& what = "") {
    static_cast<const Derived*>(this)->check_input_dim(input);
    const bool training = this->is_training();
    const bool track = options_.track_running_stats();
    // Validate before touching any state, so a rejected batch leaves the buffers as they were.
    // PyTorch's first complaint about a channel mismatch names the first per-channel tensor it checks.
    const char* checked = options_.track_running_stats() ? "running_mean"
                          : options_.affine()            ? "weight"
                                                         : nullptr;
    HNN_CHECK(checked == nullptr || input.size(1) == options_.num_features(), checked, " should contain ",
              input.size(1), " elements not ", options_.num_features(), " (", name_and_features(),
              " got input of shape ", input.shape(), ")");
    const TensorType mean = (!training || track) ? running_mean() : TensorType();
    const TensorType var = (!training || track) ? running_var() : TensorType();
    if (!training) {
      // Batch statistics in eval when no running statistics are kept; never virtual batches.
      return hnn::batch_norm_chunks(input, mean, var, weight(), bias(),
                                    {BatchNormChunk{input.size(0), !track, 0.0}}, options_.eps());
    }
    const int64_t N = input.size(0);
    const int64_t per_sample = N * input.size(1) == 0 ? 0 : input.numel() / (N * input.size(1));
    const int64_t step = chunk > 0 && chunk < N ? chunk : std::max<int64_t>(N, 1);
    std::vector<BatchNormChunk> chunks;
    for (int64_t first = 0; first < N || (N == 0 && chunks.empty()); first += step) {
      const int64_t rows = std::min(step, N - first);
      const bool one_value = rows * per_sample == 1;
      if (one_value && options_.batch_of_one() == BatchOfOne::error) {
        Shape shape = input.shape();
        shape[0] = rows;
        HNN_CHECK(false, what, "Expected more than 1 value per channel when training, got input size ",
                  detail::torch_size(shape));
      }
      HNN_CHECK(!one_value || track, what,
                "batch_of_one(BatchOfOne::use_running_stats) needs running statistics, but ",
                name_and_features(), " has track_running_stats=False (input size ",
                detail::torch_size(input.shape()), ")");
      chunks.push_back(BatchNormChunk{rows, !one_value, 0.0});
    }
    // Every chunk that is checked counts as one training batch, in order (a batch of one under
    // BatchOfOne::use_running_stats does not count).
    for (auto& c : chunks)
      if (c.training) c.momentum = count_training_batch();
    return hnn::batch_norm_chunks(input, mean, var, weight(), bias(), chunks, options_.eps());
  }

  /// One training forward: num_batches_tracked += 1, and the running-average factor of this step
  /// (momentum, or 1/num_batches_tracked for momentum = None); 0 when no statistics are tracked.
  double count_training_batch() {
    if (!options_.track_running_stats()) return 0.0;
    const int64_t seen = batches_tracked() + 1;
    set_batches_tracked(seen);
    return options_.momentum() ? *options_.momentum() : 1.0 / static_cast<double>(seen);
  }

 private:
  /// num_batches_tracked without reading a device buffer back: on the CPU the buffer is host memory and
  /// is read directly; on a device the host keeps a copy, valid while the buffer is the tensor it was
  /// taken from (a clone, a SyncBatchNorm built from this module, a reassigned buffer all re-read it once)
  /// and dropped by train() and load_state_dict() (on_state_loaded), re-read by num_batches_tracked().
  int64_t batches_tracked() const {
    const auto& b = this->buffer(num_batches_tracked_);
    if (!b.defined()) return 0;
    const auto count = b.template as<int64_t>();
    if constexpr (is_cpu_v<D>) {
      return count.data()[0];
    } else {
      if (!host_batches_tracked_of_.defined() || host_batches_tracked_of_.data() != count.data())
        return num_batches_tracked();
      return host_batches_tracked_;
    }
  }
  /// Writes num_batches_tracked in the buffer's own storage (a device write, no read back) and the host copy.
  void set_batches_tracked(int64_t value) {
    auto& b = this->buffer(num_batches_tracked_);
    if (!b.defined()) return;
    auto count = b.template as<int64_t>();
    if constexpr (is_cpu_v<D>) {
      count.data()[0] = value;
    } else {
      NoGradGuard guard;
      count.fill_(value);
    }
    host_batches_tracked_ = value;
    host_batches_tracked_of_ = count;
  }

  TensorType buffer_as_t(size_t slot) const {
    const auto& b = this->buffer(slot);
    return b.defined() ? b.template as<T>() : TensorType();
  }
  std::string name_and_features() const {
    return this->name() + "(" + std::to_string(options_.num_features()) + ")";
  }

  BatchNormOptions options_;
  size_t weight_ = 0, bias_ = 0, running_mean_ = 0, running_var_ = 0, num_batches_tracked_ = 0;
  // The host's copy of num_batches_tracked on a device and the buffer it was read from (held, so its
  // storage cannot be reused by another buffer while the copy claims to match it); unused on the CPU.
  mutable int64_t host_batches_tracked_ = 0;
  mutable Tensor<int64_t, D> host_batches_tracked_of_;
};

/// Batch norm over (N, C) or (N, C, L) inputs.
template <class T = float, class D = CPU>
class BatchNorm1d : public BatchNormBase<BatchNorm1d<T, D>, T, D> {
 public:
  explicit BatchNorm1d(BatchNormOptions options) : BatchNormBase<BatchNorm1d<T, D>, T, D>(options) {}
  explicit BatchNorm1d(int64_t num_features) : BatchNorm1d(BatchNormOptions(num_features)) {}
  std::string name() const override { return "BatchNorm1d"; }
  int64_t batch_norm_dims() const override { return 1; }
  void check_input_dim(const Tensor<T, D>& input) const {
    HNN_CHECK(input.dim() == 2 || input.dim() == 3, "expected 2D or 3D input (got ", input.dim(), "D input)");
  }
};

/// Batch norm over (N, C, H, W) inputs.
template <class T = float, class D = CPU>
class BatchNorm2d : public BatchNormBase<BatchNorm2d<T, D>, T, D> {
 public:
  explicit BatchNorm2d(BatchNormOptions options) : BatchNormBase<BatchNorm2d<T, D>, T, D>(options) {}
  explicit BatchNorm2d(int64_t num_features) : BatchNorm2d(BatchNormOptions(num_features)) {}
  std::string name() const override { return "BatchNorm2d"; }
  void check_input_dim(const Tensor<T, D>& input) const {
    HNN_CHECK(input.dim() == 4, "expected 4D input (got ", input.dim(), "D input)");
  }
};

/// Batch norm over (N, C, D, H, W) inputs.
template <class T = float, class D = CPU>
class BatchNorm3d : public BatchNormBase<BatchNorm3d<T, D>, T, D> {
 public:
  explicit BatchNorm3d(BatchNormOptions options) : BatchNormBase<BatchNorm3d<T, D>, T, D>(options) {}
  explicit BatchNorm3d(int64_t num_features) : BatchNorm3d(BatchNormOptions(num_features)) {}
  std::string name() const override { return "BatchNorm3d"; }
  int64_t batch_norm_dims() const override { return 3; }
  void check_input_dim(const Tensor<T, D>& input) const {
    HNN_CHECK(input.dim() == 5, "expected 5D input (got ", input.dim(), "D input)");
  }
};

}  // namespace hnn::nn
