// Data transforms (torchvision.transforms' numbers): ScaleToUnit (x / max_value, to [0, 1]),
// Normalize(mean, std) per channel, Flatten and Compose; each applies to one sample or to a batch, and
// MapDataset applies one to a dataset lazily, batch at a time. Depends on data/dataset.hpp and
// core/parallel.hpp.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "hnn/core/parallel.hpp"
#include "hnn/data/dataset.hpp"

namespace hnn::data {

namespace transforms {

/// x / max_value: bytes stored as numbers 0..255 become [0, 1] (the scaling of torchvision's ToTensor).
/// Elementwise, so a sample and a batch are treated alike.
class ScaleToUnit {
 public:
  explicit ScaleToUnit(double max_value = 255.0) : max_value_(max_value) {
    HNN_CHECK(max_value > 0, "hnn::data::transforms::ScaleToUnit: max_value must be positive, got ",
              max_value);
  }
  template <class T>
  Tensor<T> operator()(const Tensor<T>& sample) const {
    return apply(sample);
  }
  template <class T>
  Tensor<T> apply_batch(const Tensor<T>& batch) const {
    return apply(batch);
  }
  double max_value() const { return max_value_; }

 private:
  template <class T>
  Tensor<T> apply(const Tensor<T>& x) const {
    const Tensor<T> in = x.contiguous();
    auto out = Tensor<T>::empty(in.shape());
    const T* src = in.data();
    T* dst = out.data();
    const T divisor = static_cast<T>(max_value_);
    parallel_for(in.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) dst[i] = src[i] / divisor;
    });
    return out;
  }
  double max_value_;
};

/// torchvision.transforms.Normalize: (x - mean[c]) / std[c] for channel c, the first dimension of a
/// sample (C, ...) or the second of a batch (B, C, ...). A mean/std of one value applies to every channel.
class Normalize {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std)
      : mean_(std::move(mean)), std_(std::move(std)) {
    HNN_CHECK(!mean_.empty() && mean_.size() == std_.size(),
              "hnn::data::transforms::Normalize: mean and std ",
              "need the same, non-zero number of channels, got ", mean_.size(), " and ", std_.size());
    for (size_t c = 0; c < std_.size(); ++c)
      HNN_CHECK(std_[c] != 0, "hnn::data::transforms::Normalize: std evaluated to zero at channel ", c,
                ", leading to division by zero");
  }
  template <class T>
  Tensor<T> operator()(const Tensor<T>& sample) const {
    HNN_CHECK(sample.dim() >= 1, "hnn::data::transforms::Normalize: expected a sample (C, ...), got shape ",
              sample.shape());
    return apply(sample, 1, sample.size(0), "sample");
  }
  template <class T>
  Tensor<T> apply_batch(const Tensor<T>& batch) const {
    HNN_CHECK(batch.dim() >= 2, "hnn::data::transforms::Normalize: expected a batch (B, C, ...), got shape ",
              batch.shape());
    return apply(batch, batch.size(0), batch.size(1), "batch");
  }
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& std() const { return std_; }

 private:
  template <class T>
  Tensor<T> apply(const Tensor<T>& x, int64_t outer, int64_t channels, const char* what) const {
    HNN_CHECK(mean_.size() == 1 || static_cast<int64_t>(mean_.size()) == channels,
              "hnn::data::transforms::Normalize: mean and std have ", mean_.size(), " channels but the ",
              what, " of shape ", x.shape(), " has ", channels);
    const Tensor<T> in = x.contiguous();
    auto out = Tensor<T>::empty(in.shape());
    const int64_t planes = outer * channels;
    const int64_t inner = planes > 0 ? in.numel() / planes : 0;
    std::vector<T> mean(static_cast<size_t>(channels)), std(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c) {
      const size_t k = mean_.size() == 1 ? 0 : static_cast<size_t>(c);
      mean[static_cast<size_t>(c)] = static_cast<T>(mean_[k]);
      std[static_cast<size_t>(c)] = static_cast<T>(std_[k]);
    }
    const T* src = in.data();
    T* dst = out.data();
    // Subtract then divide, in T, as torchvision's tensor.sub_(mean).div_(std) rounds.
    parallel_for(planes, std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(inner, 1)),
                 [&](int64_t begin, int64_t end) {
                   for (int64_t p = begin; p < end; ++p) {
                     const T m = mean[static_cast<size_t>(p % channels)];
                     const T s = std[static_cast<size_t>(p % channels)];
                     const T* a = src + p * inner;
                     T* b = dst + p * inner;
                     for (int64_t i = 0; i < inner; ++i) b[i] = (a[i] - m) / s;
                   }
                 });
    return out;
  }
  std::vector<double> mean_, std_;
};

/// Flattens a sample to (numel) and a batch (B, ...) to (B, numel / B), as nn.Flatten does after the
/// batch dimension.
class Flatten {
 public:
  template <class T>
  Tensor<T> operator()(const Tensor<T>& sample) const {
    return sample.contiguous().reshape(Shape{sample.numel()});
  }
  template <class T>
  Tensor<T> apply_batch(const Tensor<T>& batch) const {
    HNN_CHECK(batch.dim() >= 1,
              "hnn::data::transforms::Flatten: expected a batch (B, ...), got a 0-dim tensor");
    const int64_t rows = batch.size(0);
    int64_t row_size = 1;
    for (int64_t d = 1; d < batch.dim(); ++d) row_size *= batch.size(d);
    return batch.contiguous().reshape(Shape{rows, row_size});
  }
};

/// Applies transforms left to right: Compose(ScaleToUnit(), Normalize({0.5}, {0.5}), Flatten()).
template <class... Transforms>
class Compose {
 public:
  explicit Compose(Transforms... transforms) : transforms_(std::move(transforms)...) {}
  template <class T>
  Tensor<T> operator()(const Tensor<T>& sample) const {
    return std::apply(
        [&](const auto&... t) {
          return chain(
              sample, [](const auto& f, const auto& x) { return f(x); }, t...);
        },
        transforms_);
  }
  template <class T>
  Tensor<T> apply_batch(const Tensor<T>& batch) const {
    return std::apply(
        [&](const auto&... t) {
          return chain(
              batch, [](const auto& f, const auto& x) { return f.apply_batch(x); }, t...);
        },
        transforms_);
  }

 private:
  template <class T, class Call, class... Fs>
  static Tensor<T> chain(const Tensor<T>& x, Call call, const Fs&... fs) {
    Tensor<T> value = x;
    ((value = call(fs, value)), ...);
    return value;
  }
  std::tuple<Transforms...> transforms_;
};

}  // namespace transforms

/// A transform is a type with operator()(sample) and apply_batch(batch), both Tensor<T> -> Tensor<T>.
template <class F, class T>
concept DataTransform = requires(const F& f, const Tensor<T>& x) {
  { f(x) } -> std::convertible_to<Tensor<T>>;
  { f.apply_batch(x) } -> std::convertible_to<Tensor<T>>;
};

/// `dataset` with a transform applied to each sample's data (get) or to each gathered batch (get_batch,
/// one pass over the batch after the memcpy gather; the DataLoader calls this). Targets are unchanged.
/// An lvalue dataset is referenced (keep it alive), an rvalue one owned.
template <class T = float, class Target = int64_t>
class MapDataset : public Dataset<T, Target> {
 public:
  template <detail::AnyDataset DS, class Transform>
  requires DataTransform<Transform, T> MapDataset(DS&& dataset, Transform transform)
      : dataset_(detail::hold_dataset(std::forward<DS>(dataset))),
        transform_(std::make_shared<const Transform>(std::move(transform))) {
    const auto* t = static_cast<const Transform*>(transform_.get());
    sample_ = [t](const Tensor<T>& x) { return (*t)(x); };
    batch_ = [t](const Tensor<T>& x) { return t->apply_batch(x); };
  }

  int64_t size() const override { return dataset_->size(); }
  Example<T, Target> get(int64_t index) const override {
    this->check_index(index, "hnn::data::MapDataset::get");
    auto example = dataset_->get(index);
    return {sample_(example.data), example.target};
  }
  Example<T, Target> get_batch(std::span<const int64_t> indices) const override {
    auto batch = dataset_->get_batch(indices);
    return {batch_(batch.data), batch.target};
  }

 private:
  std::shared_ptr<const Dataset<T, Target>> dataset_;
  std::shared_ptr<const void> transform_;
  std::function<Tensor<T>(const Tensor<T>&)> sample_, batch_;
};

template <detail::AnyDataset DS, class Transform>
MapDataset(DS&&, Transform)
    -> MapDataset<typename std::decay_t<DS>::data_type, typename std::decay_t<DS>::target_type>;

}  // namespace hnn::data
