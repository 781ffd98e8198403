// TensorDataset: samples are rows (first-dimension slices) of a data tensor and a target tensor, like
// torch.utils.data.TensorDataset; batches are gathered with one memcpy per row. Depends on data/dataset.hpp.
#pragma once

#include <algorithm>
#include <cstring>
#include <span>

#include "hnn/data/dataset.hpp"

namespace hnn::data {

template <class T = float, class Target = int64_t>
class TensorDataset : public Dataset<T, Target> {
 public:
  /// `data` (N, ...) and `targets` (N, ...) must agree on N. Both are kept as contiguous, detached tensors
  /// (no copy when they already are contiguous): sample i is a view of row i, as in PyTorch.
  TensorDataset(const Tensor<T>& data, const Tensor<Target>& targets)
      : data_(data.detach().contiguous()), targets_(targets.detach().contiguous()) {
    HNN_CHECK(data_.dim() >= 1 && targets_.dim() >= 1,
              "hnn::data::TensorDataset: data and targets need a sample ", "dimension, got shapes ",
              data_.shape(), " and ", targets_.shape());
    HNN_CHECK(data_.size(0) == targets_.size(0),
              "hnn::data::TensorDataset: size mismatch between tensors: data has ", data_.size(0),
              " samples (shape ", data_.shape(), "), targets have ", targets_.size(0), " (shape ",
              targets_.shape(), ")");
  }

  int64_t size() const override { return data_.size(0); }

  Example<T, Target> get(int64_t index) const override {
    this->check_index(index, "hnn::data::TensorDataset::get");
    return {data_.select(0, index), targets_.select(0, index)};
  }

  Example<T, Target> get_batch(std::span<const int64_t> indices) const override {
    for (int64_t index : indices) this->check_index(index, "hnn::data::TensorDataset::get_batch");
    return {gather_rows(data_, indices), gather_rows(targets_, indices)};
  }

  /// The whole data tensor (N, ...) and target tensor (N, ...), e.g. to evaluate in one pass.
  const Tensor<T>& data() const { return data_; }
  const Tensor<Target>& targets() const { return targets_; }

 private:
  template <class U>
  static Tensor<U> gather_rows(const Tensor<U>& source, std::span<const int64_t> indices) {
    Shape shape = source.shape();
    shape[0] = static_cast<int64_t>(indices.size());
    auto out = Tensor<U>::empty(shape);
    const int64_t row = source.numel() / std::max<int64_t>(source.size(0), 1);
    if (row == 0) return out;
    const U* src = source.data();
    U* dst = out.data();
    for (size_t i = 0; i < indices.size(); ++i)
      std::memcpy(dst + static_cast<int64_t>(i) * row, src + indices[i] * row,
                  static_cast<size_t>(row) * sizeof(U));
    return out;
  }

  Tensor<T> data_;
  Tensor<Target> targets_;
};

}  // namespace hnn::data
