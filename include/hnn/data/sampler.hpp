// DistributedSampler: the share of a dataset's indices one rank reads in data-parallel training, as
// torch.utils.data.DistributedSampler computes it. Depends on core/random.hpp and core/error.hpp.
#pragma once

#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "hnn/core/error.hpp"
#include "hnn/core/random.hpp"

namespace hnn::data {

/// Every rank gets num_samples() indices: ceil(size / num_replicas), the list padded by repeating its
/// first indices, or floor(size / num_replicas) with drop_last (the tail dropped). Without shuffle rank r
/// reads r, r + num_replicas, ...; with shuffle the whole list is first permuted by a generator seeded
/// with seed + epoch, so every rank draws the same permutation and the ranks' shares never overlap
/// (apart from the padding). The permutation is hnn's own, not torch.randperm's. Call set_epoch(e) before
/// each epoch for a new order, as in PyTorch; pass the sampler to DataLoader(dataset, options, sampler).
class DistributedSampler {
 public:
  DistributedSampler(int64_t dataset_size, int64_t num_replicas, int64_t rank, bool shuffle = true,
                     uint64_t seed = 0, bool drop_last = false)
      : dataset_size_(dataset_size),
        num_replicas_(num_replicas),
        rank_(rank),
        shuffle_(shuffle),
        seed_(seed),
        drop_last_(drop_last) {
    HNN_CHECK(dataset_size >= 0, "hnn::data::DistributedSampler: dataset_size must be >= 0, got ",
              dataset_size);
    HNN_CHECK(num_replicas >= 1, "hnn::data::DistributedSampler: num_replicas must be >= 1, got ",
              num_replicas);
    HNN_CHECK(rank >= 0 && rank < num_replicas, "hnn::data::DistributedSampler: invalid rank ", rank,
              ", rank should be in the interval [0, ", num_replicas - 1, "]");
    num_samples_ = drop_last ? dataset_size / num_replicas : (dataset_size + num_replicas - 1) / num_replicas;
  }

  /// The epoch mixes into the shuffling seed: a different permutation each epoch, identical on all ranks.
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  int64_t epoch() const { return epoch_; }

  /// Indices this rank reads, in order, for the current epoch.
  std::vector<int64_t> indices() const {
    std::vector<int64_t> all(static_cast<size_t>(dataset_size_));
    std::iota(all.begin(), all.end(), int64_t(0));
    if (shuffle_) {
      Generator generator(seed_ + static_cast<uint64_t>(epoch_));
      for (size_t i = all.size(); i > 1; --i)
        std::swap(all[i - 1], all[static_cast<size_t>(generator.random_below(static_cast<uint64_t>(i)))]);
    }
    const int64_t total = total_size();
    std::vector<int64_t> padded(static_cast<size_t>(total));
    // Padding repeats the list from its start as often as needed (the dataset may be smaller than the
    // padding when num_replicas > dataset_size); drop_last simply stops early.
    for (int64_t i = 0; i < total; ++i)
      padded[static_cast<size_t>(i)] = all[static_cast<size_t>(i % dataset_size_)];
    std::vector<int64_t> mine;
    mine.reserve(static_cast<size_t>(num_samples_));
    for (int64_t i = rank_; i < total; i += num_replicas_) mine.push_back(padded[static_cast<size_t>(i)]);
    return mine;
  }

  /// Indices per rank (len(sampler) in PyTorch).
  int64_t num_samples() const { return num_samples_; }
  int64_t size() const { return num_samples_; }
  /// Indices over all ranks: num_samples() * num_replicas.
  int64_t total_size() const { return num_samples_ * num_replicas_; }
  int64_t num_replicas() const { return num_replicas_; }
  int64_t rank() const { return rank_; }
  bool shuffle() const { return shuffle_; }
  bool drop_last() const { return drop_last_; }

 private:
  int64_t dataset_size_;
  int64_t num_replicas_;
  int64_t rank_;
  bool shuffle_;
  uint64_t seed_;
  bool drop_last_;
  int64_t num_samples_ = 0;
  int64_t epoch_ = 0;
};

}  // namespace hnn::data
