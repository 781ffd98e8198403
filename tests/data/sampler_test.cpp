// hnn::data::DistributedSampler: PyTorch's sizes (padding by repetition, drop_last), rank striding, one
// permutation per (seed, epoch) shared by every rank, and use through DataLoader(dataset, options, sampler).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <hnn/data/dataloader.hpp>
#include <hnn/data/sampler.hpp>
#include <hnn/data/tensor_dataset.hpp>
#include <numeric>
#include <vector>

using hnn::data::DistributedSampler;

namespace {

/// The ranks' index lists, interleaved back into the padded global order they were strided from.
std::vector<int64_t> interleave(int64_t size, int64_t replicas, bool shuffle, uint64_t seed, bool drop_last,
                                int64_t epoch) {
  std::vector<std::vector<int64_t>> per_rank;
  for (int64_t r = 0; r < replicas; ++r) {
    DistributedSampler sampler(size, replicas, r, shuffle, seed, drop_last);
    sampler.set_epoch(epoch);
    per_rank.push_back(sampler.indices());
    REQUIRE(static_cast<int64_t>(per_rank.back().size()) == sampler.num_samples());
  }
  std::vector<int64_t> global;
  for (size_t i = 0; i < per_rank[0].size(); ++i)
    for (const auto& rank : per_rank) global.push_back(rank[i]);
  return global;
}

}  // namespace

TEST_CASE("DistributedSampler without shuffle strides by rank and pads by repetition", "[data][sampler]") {
  // torch.utils.data.DistributedSampler(range(10), num_replicas=4, rank=r, shuffle=False):
  // rank 0 [0, 4, 8], rank 1 [1, 5, 9], rank 2 [2, 6, 0], rank 3 [3, 7, 1].
  const std::vector<std::vector<int64_t>> expected{{0, 4, 8}, {1, 5, 9}, {2, 6, 0}, {3, 7, 1}};
  for (int64_t r = 0; r < 4; ++r) {
    DistributedSampler sampler(10, 4, r, /*shuffle=*/false);
    CHECK(sampler.num_samples() == 3);
    CHECK(sampler.total_size() == 12);
    CHECK(sampler.indices() == expected[static_cast<size_t>(r)]);
  }
  // More replicas than samples: the list repeats as often as needed (PyTorch's padding rule).
  CHECK(interleave(3, 8, false, 0, false, 0) == std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1});
}

TEST_CASE("DistributedSampler with drop_last gives floor(size / replicas) per rank", "[data][sampler]") {
  // torch: DistributedSampler(range(10), num_replicas=4, rank=r, shuffle=False, drop_last=True) -> 2 each.
  const std::vector<std::vector<int64_t>> expected{{0, 4}, {1, 5}, {2, 6}, {3, 7}};
  for (int64_t r = 0; r < 4; ++r) {
    DistributedSampler sampler(10, 4, r, false, 0, /*drop_last=*/true);
    CHECK(sampler.num_samples() == 2);
    CHECK(sampler.indices() == expected[static_cast<size_t>(r)]);
  }
  DistributedSampler even(12, 4, 1, false, 0, true);
  CHECK(even.indices() == std::vector<int64_t>{1, 5, 9});
}

TEST_CASE("DistributedSampler shuffles with one permutation per (seed, epoch) on every rank",
          "[data][sampler]") {
  const int64_t size = 23, replicas = 3;
  std::vector<int64_t> identity(size);
  std::iota(identity.begin(), identity.end(), int64_t(0));
  const auto epoch0 = interleave(size, replicas, true, 5, false, 0);
  REQUIRE(epoch0.size() == 24);
  // The first `size` positions are a permutation; the padding repeats its start.
  std::vector<int64_t> head(epoch0.begin(), epoch0.begin() + size);
  std::sort(head.begin(), head.end());
  CHECK(head == identity);
  CHECK(epoch0[23] == epoch0[0]);
  CHECK(std::vector<int64_t>(epoch0.begin(), epoch0.begin() + size) != identity);

  CHECK(interleave(size, replicas, true, 5, false, 0) == epoch0);  // deterministic
  CHECK(interleave(size, replicas, true, 5, false, 1) != epoch0);  // set_epoch changes the order
  CHECK(interleave(size, replicas, true, 6, false, 0) != epoch0);  // so does the seed

  // drop_last cuts the same permutation: ranks are disjoint and cover floor(23 / 3) * 3 = 21 samples.
  auto dropped = interleave(size, replicas, true, 5, true, 0);
  CHECK(dropped == std::vector<int64_t>(epoch0.begin(), epoch0.begin() + 21));
  std::sort(dropped.begin(), dropped.end());
  CHECK(std::adjacent_find(dropped.begin(), dropped.end()) == dropped.end());
}

TEST_CASE("DistributedSampler validates its arguments", "[data][sampler]") {
  CHECK_THROWS_WITH(DistributedSampler(10, 2, 2),
                    Catch::Contains("invalid rank 2") && Catch::Contains("[0, 1]"));
  CHECK_THROWS_AS(DistributedSampler(10, 0, 0), std::invalid_argument);
  CHECK_THROWS_AS(DistributedSampler(-1, 2, 0), std::invalid_argument);
  DistributedSampler empty(0, 2, 1);
  CHECK(empty.indices().empty());
}

TEST_CASE("DataLoader(dataset, options, sampler) reads the rank's share and follows set_epoch",
          "[data][sampler]") {
  std::vector<int64_t> targets(11);
  std::iota(targets.begin(), targets.end(), int64_t(0));
  hnn::data::TensorDataset dataset(hnn::zeros<float>({11, 2}), hnn::tensor<int64_t>(targets, {11}));
  DistributedSampler sampler(11, 2, 1, true, 9);
  hnn::data::DataLoader loader(dataset, hnn::data::DataLoaderOptions().batch_size(4), sampler);
  CHECK(loader.size() == 2);  // ceil(6 / 4)
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    sampler.set_epoch(epoch);
    std::vector<int64_t> seen;
    for (const auto& batch : loader) {
      const auto t = batch.target.to_vector();
      seen.insert(seen.end(), t.begin(), t.end());
    }
    CHECK(seen == sampler.indices());
  }
}
