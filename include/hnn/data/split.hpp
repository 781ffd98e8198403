// Splitting data: random_split (torch.utils.data.random_split: Subset views from lengths or fractions),
// KFold and StratifiedKFold (sklearn.model_selection's folds). Depends on data/dataset.hpp, core/random.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "hnn/core/random.hpp"
#include "hnn/data/dataset.hpp"

namespace hnn::data {

namespace detail {

/// Fisher-Yates shuffle with an hnn Generator (the same on every platform; not numpy's or torch's stream).
template <class U>
void shuffle_with(std::vector<U>& values, Generator& generator) {
  for (size_t i = values.size(); i > 1; --i)
    std::swap(values[i - 1], values[static_cast<size_t>(generator.random_below(static_cast<uint64_t>(i)))]);
}

/// PyTorch's rule for fractions: floor(n * f) each, then the remainder handed out one by one, round robin
/// from the first part.
inline std::vector<int64_t> lengths_from_fractions(const std::vector<double>& fractions, int64_t n) {
  double total = 0;
  for (size_t i = 0; i < fractions.size(); ++i) {
    HNN_CHECK(fractions[i] >= 0 && fractions[i] <= 1, "hnn::data::random_split: fraction at index ", i,
              " is not between 0 and 1: ", fractions[i]);
    total += fractions[i];
  }
  HNN_CHECK(std::abs(total - 1) <= 1e-9, "hnn::data::random_split: fractions should sum to 1, got ", total);
  std::vector<int64_t> lengths(fractions.size());
  int64_t assigned = 0;
  for (size_t i = 0; i < fractions.size(); ++i) {
    lengths[i] = static_cast<int64_t>(std::floor(static_cast<double>(n) * fractions[i]));
    assigned += lengths[i];
  }
  for (int64_t r = 0; r < n - assigned; ++r) ++lengths[static_cast<size_t>(r) % lengths.size()];
  return lengths;
}

}  // namespace detail

/// Splits `dataset` into non-overlapping Subsets of the given lengths (summing to dataset.size()) or
/// fractions (summing to 1; sizes as PyTorch computes them) after one random permutation drawn from
/// `generator`. An lvalue dataset is referenced by the parts (keep it alive); an rvalue one is owned by
/// them jointly. The permutation is hnn's own, so indices differ from torch.randperm's.
template <detail::AnyDataset DS, class Number>
requires std::is_arithmetic_v<Number>
auto random_split(DS&& dataset, const std::vector<Number>& lengths_or_fractions, Generator& generator) {
  using T = typename std::decay_t<DS>::data_type;
  using Target = typename std::decay_t<DS>::target_type;
  std::shared_ptr<const Dataset<T, Target>> held = detail::hold_dataset(std::forward<DS>(dataset));
  const int64_t n = held->size();
  HNN_CHECK(!lengths_or_fractions.empty(), "hnn::data::random_split: no lengths given");
  std::vector<int64_t> lengths;
  if constexpr (std::is_floating_point_v<Number>) {
    lengths = detail::lengths_from_fractions(
        std::vector<double>(lengths_or_fractions.begin(), lengths_or_fractions.end()), n);
  } else {
    int64_t total = 0;
    for (size_t i = 0; i < lengths_or_fractions.size(); ++i) {
      HNN_CHECK(lengths_or_fractions[i] >= 0, "hnn::data::random_split: length at index ", i,
                " is negative: ", lengths_or_fractions[i]);
      lengths.push_back(static_cast<int64_t>(lengths_or_fractions[i]));
      total += lengths.back();
    }
    HNN_CHECK(total == n, "hnn::data::random_split: sum of input lengths (", total,
              ") does not equal the length of the input dataset (", n, ")");
  }
  std::vector<int64_t> permutation(static_cast<size_t>(n));
  std::iota(permutation.begin(), permutation.end(), int64_t(0));
  detail::shuffle_with(permutation, generator);
  std::vector<Subset<T, Target>> parts;
  parts.reserve(lengths.size());
  auto cursor = permutation.begin();
  for (int64_t length : lengths) {
    parts.emplace_back(held, std::vector<int64_t>(cursor, cursor + length));
    cursor += length;
  }
  return parts;
}

/// Braced lists: random_split(ds, {800, 200}, gen) or random_split(ds, {0.8, 0.2}, gen).
template <detail::AnyDataset DS, class Number>
requires std::is_arithmetic_v<Number>
auto random_split(DS&& dataset, std::initializer_list<Number> lengths_or_fractions, Generator& generator) {
  return random_split(std::forward<DS>(dataset), std::vector<Number>(lengths_or_fractions), generator);
}

/// With the default generator (seeded by hnn::manual_seed), as PyTorch's default.
template <detail::AnyDataset DS, class Number>
requires std::is_arithmetic_v<Number>
auto random_split(DS&& dataset, std::initializer_list<Number> lengths_or_fractions) {
  return random_split(std::forward<DS>(dataset), std::vector<Number>(lengths_or_fractions),
                      default_generator());
}
template <detail::AnyDataset DS, class Number>
requires std::is_arithmetic_v<Number>
auto random_split(DS&& dataset, const std::vector<Number>& lengths_or_fractions) {
  return random_split(std::forward<DS>(dataset), lengths_or_fractions, default_generator());
}

/// One fold of a cross-validator: training and test positions, each in increasing order (as sklearn).
struct Fold {
  std::vector<int64_t> train;
  std::vector<int64_t> test;
};

/// sklearn.model_selection.KFold: n_splits consecutive test folds, the first n % n_splits of them one
/// sample larger; with shuffle the positions are permuted first. Unshuffled splits equal sklearn's;
/// shuffled ones are deterministic by seed but use hnn's permutation, not numpy's.
class KFold {
 public:
  explicit KFold(int64_t n_splits = 5, bool shuffle = false, uint64_t seed = 0)
      : n_splits_(n_splits), shuffle_(shuffle), seed_(seed) {
    HNN_CHECK(n_splits >= 2,
              "hnn::data::KFold: k-fold cross-validation requires at least one train/test split by ",
              "setting n_splits=2 or more, got n_splits=", n_splits);
  }

  int64_t get_n_splits() const { return n_splits_; }

  /// The folds of n samples (positions 0..n-1), in order.
  std::vector<Fold> split(int64_t n) const {
    HNN_CHECK(n_splits_ <= n, "hnn::data::KFold: cannot have number of splits n_splits=", n_splits_,
              " greater than the number of samples: n_samples=", n);
    std::vector<int64_t> positions(static_cast<size_t>(n));
    std::iota(positions.begin(), positions.end(), int64_t(0));
    if (shuffle_) {
      Generator generator(seed_);
      detail::shuffle_with(positions, generator);
    }
    std::vector<int64_t> fold_of(static_cast<size_t>(n));
    int64_t start = 0;
    for (int64_t k = 0; k < n_splits_; ++k) {
      const int64_t size = n / n_splits_ + (k < n % n_splits_ ? 1 : 0);
      for (int64_t i = start; i < start + size; ++i)
        fold_of[static_cast<size_t>(positions[static_cast<size_t>(i)])] = k;
      start += size;
    }
    return folds_from_assignment(fold_of, n_splits_);
  }

  /// Each sample's test fold -> the (train, test) position lists, both ascending.
  static std::vector<Fold> folds_from_assignment(const std::vector<int64_t>& fold_of, int64_t n_splits) {
    std::vector<Fold> folds(static_cast<size_t>(n_splits));
    for (size_t i = 0; i < fold_of.size(); ++i)
      for (int64_t k = 0; k < n_splits; ++k)
        (fold_of[i] == k ? folds[static_cast<size_t>(k)].test : folds[static_cast<size_t>(k)].train)
            .push_back(static_cast<int64_t>(i));
    return folds;
  }

 private:
  int64_t n_splits_;
  bool shuffle_;
  uint64_t seed_;
};

/// sklearn.model_selection.StratifiedKFold (1.2's algorithm): every test fold keeps the class
/// proportions. Classes are numbered by first appearance, the per-fold counts of each class come from
/// dealing the sorted labels round robin over the folds, and each class's samples take fold numbers in
/// blocks, in file order (shuffled per class with shuffle=true, with hnn's generator, not numpy's).
class StratifiedKFold {
 public:
  explicit StratifiedKFold(int64_t n_splits = 5, bool shuffle = false, uint64_t seed = 0)
      : n_splits_(n_splits), shuffle_(shuffle), seed_(seed) {
    HNN_CHECK(n_splits >= 2, "hnn::data::StratifiedKFold: k-fold cross-validation requires at least one ",
              "train/test split by setting n_splits=2 or more, got n_splits=", n_splits);
  }

  int64_t get_n_splits() const { return n_splits_; }

  /// The folds for these class labels (any int64 values), in order.
  std::vector<Fold> split(const std::vector<int64_t>& labels) const {
    const auto n = static_cast<int64_t>(labels.size());
    HNN_CHECK(n_splits_ <= n, "hnn::data::StratifiedKFold: cannot have number of splits n_splits=", n_splits_,
              " greater than the number of samples: n_samples=", n);
    // Classes in order of first appearance.
    std::map<int64_t, int64_t> class_of_label;
    std::vector<int64_t> encoded(labels.size());
    for (size_t i = 0; i < labels.size(); ++i) {
      auto [it, inserted] = class_of_label.emplace(labels[i], static_cast<int64_t>(class_of_label.size()));
      encoded[i] = it->second;
    }
    const auto n_classes = static_cast<int64_t>(class_of_label.size());
    std::vector<int64_t> counts(static_cast<size_t>(n_classes), 0);
    for (int64_t c : encoded) ++counts[static_cast<size_t>(c)];
    HNN_CHECK(*std::max_element(counts.begin(), counts.end()) >= n_splits_,
              "hnn::data::StratifiedKFold: n_splits=", n_splits_,
              " cannot be greater than the number of members in each class");

    // allocation[k][c]: samples of class c in test fold k = count of c among sorted_labels[k::n_splits].
    std::vector<std::vector<int64_t>> allocation(static_cast<size_t>(n_splits_),
                                                 std::vector<int64_t>(static_cast<size_t>(n_classes), 0));
    int64_t position = 0;
    for (int64_t c = 0; c < n_classes; ++c)
      for (int64_t j = 0; j < counts[static_cast<size_t>(c)]; ++j, ++position)
        ++allocation[static_cast<size_t>(position % n_splits_)][static_cast<size_t>(c)];

    Generator generator(seed_);
    std::vector<int64_t> fold_of(labels.size());
    for (int64_t c = 0; c < n_classes; ++c) {
      std::vector<int64_t> folds_for_class;
      for (int64_t k = 0; k < n_splits_; ++k)
        folds_for_class.insert(
            folds_for_class.end(),
            static_cast<size_t>(allocation[static_cast<size_t>(k)][static_cast<size_t>(c)]), k);
      if (shuffle_) detail::shuffle_with(folds_for_class, generator);
      size_t next = 0;
      for (size_t i = 0; i < encoded.size(); ++i)
        if (encoded[i] == c) fold_of[i] = folds_for_class[next++];
    }
    return KFold::folds_from_assignment(fold_of, n_splits_);
  }

  /// Labels from a (N) int64 tensor.
  std::vector<Fold> split(const Tensor<int64_t>& labels) const {
    HNN_CHECK(labels.dim() == 1, "hnn::data::StratifiedKFold::split: expected 1-D labels, got shape ",
              labels.shape());
    return split(labels.to_vector());
  }

 private:
  int64_t n_splits_;
  bool shuffle_;
  uint64_t seed_;
};

}  // namespace hnn::data
