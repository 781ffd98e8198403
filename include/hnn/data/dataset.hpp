// Datasets: Example<T, Target> (one sample or one batch, with .data and .target), the Dataset<T, Target>
// interface (size(), get(i), get_batch(indices)) and Subset. Depends on hnn/tensor.hpp.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "hnn/tensor.hpp"

namespace hnn::data {

/// One sample (data of the sample's shape, target usually 0-dim) or one batch (a leading batch dimension
/// on both), like libtorch's torch::data::Example. Targets are int64 class indices for classification
/// and floating point for regression.
template <class T = float, class Target = int64_t>
struct Example {
  Tensor<T> data;
  Tensor<Target> target;
};

/// The interface every dataset implements: size(), get(index) in file order, and get_batch(indices),
/// which a DataLoader calls (with prefetch, from its worker thread and the iterating thread at once, and
/// now and then twice for the same indices, so implementations must be safe to call concurrently with
/// other const calls and return the same batch every time). Datasets are immutable once built.
template <class T = float, class Target = int64_t>
class Dataset {
 public:
  using data_type = T;
  using target_type = Target;
  using example_type = Example<T, Target>;

  virtual ~Dataset() = default;

  virtual int64_t size() const = 0;
  virtual Example<T, Target> get(int64_t index) const = 0;

  /// The samples at `indices` stacked along a new leading dimension. This default copies get(i) for each
  /// index into place; datasets with contiguous storage override it with one row copy per sample.
  virtual Example<T, Target> get_batch(std::span<const int64_t> indices) const {
    std::vector<Example<T, Target>> samples;
    samples.reserve(indices.size());
    for (int64_t index : indices) samples.push_back(get(index));
    return stack(samples);
  }

  /// Stacks samples of equal shapes into one batch (B, ...); throws when shapes differ.
  static Example<T, Target> stack(const std::vector<Example<T, Target>>& samples) {
    HNN_CHECK(!samples.empty(), "hnn::data::Dataset::stack: no samples to stack");
    return {stack_tensors(
                samples, [](const Example<T, Target>& e) -> const Tensor<T>& { return e.data; }, "data"),
            stack_tensors(
                samples, [](const Example<T, Target>& e) -> const Tensor<Target>& { return e.target; },
                "target")};
  }

 protected:
  Dataset() = default;
  Dataset(const Dataset&) = default;
  Dataset& operator=(const Dataset&) = default;
  Dataset(Dataset&&) noexcept = default;
  Dataset& operator=(Dataset&&) noexcept = default;

  /// Throws std::invalid_argument unless 0 <= index < size().
  void check_index(int64_t index, const char* who) const {
    HNN_CHECK(index >= 0 && index < size(), who, ": index ", index, " is out of range for a dataset of ",
              size(), " samples");
  }

 private:
  template <class Get>
  static auto stack_tensors(const std::vector<Example<T, Target>>& samples, Get get, const char* what) {
    using U = typename std::decay_t<decltype(get(samples[0]))>::value_type;
    const Shape& first = get(samples[0]).shape();
    Shape shape = first;
    shape.insert(0, static_cast<int64_t>(samples.size()));
    auto out = Tensor<U>::empty(shape);
    const int64_t row = first.numel();
    for (size_t i = 0; i < samples.size(); ++i) {
      const auto& t = get(samples[i]);
      HNN_CHECK(t.shape() == first, "hnn::data::Dataset::stack: sample ", i, " has ", what, " shape ",
                t.shape(), " but sample 0 has ", first, "; samples in a batch must have equal shapes");
      hnn::detail::copy_to_contiguous(out.data() + static_cast<int64_t>(i) * row, t);
    }
    return out;
  }
};

namespace detail {

template <class DS>
using dataset_base_t = Dataset<typename std::decay_t<DS>::data_type, typename std::decay_t<DS>::target_type>;

/// True for types derived from some Dataset<T, Target>.
template <class DS>
concept AnyDataset = requires {
  typename std::decay_t<DS>::data_type;
  typename std::decay_t<DS>::target_type;
}
&&std::is_base_of_v<dataset_base_t<DS>, std::decay_t<DS>>;

/// Keeps a dataset alive for a wrapper (Subset, DataLoader, a transformed view): an lvalue is referenced
/// (the caller keeps it alive, as PyTorch's wrappers reference theirs), an rvalue is moved into shared
/// ownership, so `DataLoader(random_split(...)[0], ...)` does not dangle.
template <class DS>
std::shared_ptr<const dataset_base_t<DS>> hold_dataset(DS&& dataset) {
  using Plain = std::decay_t<DS>;
  if constexpr (std::is_lvalue_reference_v<DS>) {
    // Aliasing constructor with an empty owner: a non-owning pointer with shared_ptr's interface.
    return std::shared_ptr<const Plain>(std::shared_ptr<const Plain>(), &dataset);
  } else {
    return std::make_shared<const Plain>(std::forward<DS>(dataset));
  }
}

}  // namespace detail

/// The samples of `dataset` at `indices`, in that order (like torch.utils.data.Subset). Holds the dataset
/// by reference when given an lvalue (keep it alive) and by ownership when given an rvalue.
template <class T = float, class Target = int64_t>
class Subset : public Dataset<T, Target> {
 public:
  template <detail::AnyDataset DS>
  Subset(DS&& dataset, std::vector<int64_t> indices)
      : Subset(std::shared_ptr<const Dataset<T, Target>>(detail::hold_dataset(std::forward<DS>(dataset))),
               std::move(indices)) {}

  /// Shares ownership of `dataset` (random_split gives every part the same one).
  Subset(std::shared_ptr<const Dataset<T, Target>> dataset, std::vector<int64_t> indices)
      : dataset_(std::move(dataset)), indices_(std::move(indices)) {
    HNN_CHECK(dataset_ != nullptr, "hnn::data::Subset: the dataset pointer is null");
    const int64_t n = dataset_->size();
    for (size_t i = 0; i < indices_.size(); ++i)
      HNN_CHECK(indices_[i] >= 0 && indices_[i] < n, "hnn::data::Subset: index ", indices_[i], " (position ",
                i, ") is out of range for a dataset of ", n, " samples");
  }

  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Example<T, Target> get(int64_t index) const override {
    this->check_index(index, "hnn::data::Subset::get");
    return dataset_->get(indices_[static_cast<size_t>(index)]);
  }
  Example<T, Target> get_batch(std::span<const int64_t> indices) const override {
    std::vector<int64_t> mapped(indices.size());
    for (size_t i = 0; i < indices.size(); ++i) {
      this->check_index(indices[i], "hnn::data::Subset::get_batch");
      mapped[i] = indices_[static_cast<size_t>(indices[i])];
    }
    return dataset_->get_batch(mapped);
  }

  /// Positions in the underlying dataset.
  const std::vector<int64_t>& indices() const { return indices_; }
  const Dataset<T, Target>& dataset() const { return *dataset_; }

 private:
  std::shared_ptr<const Dataset<T, Target>> dataset_;
  std::vector<int64_t> indices_;
};

template <detail::AnyDataset DS>
Subset(DS&&, std::vector<int64_t>)
    -> Subset<typename std::decay_t<DS>::data_type, typename std::decay_t<DS>::target_type>;

/// Every sample of `dataset` (a Subset, a fold, a MapDataset with its transforms applied, ...) as one
/// (data, target) pair of tensors, stacked along a new leading dimension in the dataset's order: a held-out
/// fold as tensors for evaluation, or a training fold as the table a scaler fits. Refuses an empty dataset.
template <class T, class Target>
Example<T, Target> to_tensors(const Dataset<T, Target>& dataset) {
  HNN_CHECK(dataset.size() > 0, "hnn::data::to_tensors: the dataset is empty (0 samples)");
  std::vector<int64_t> all(static_cast<size_t>(dataset.size()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  return dataset.get_batch(all);
}

}  // namespace hnn::data
