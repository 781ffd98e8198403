// DistributedSampler under mpirun: without shuffle every (size, num_replicas, drop_last) index list equals
// PyTorch's (tests/references/sampler.json); with shuffle, the lists the actual ranks compute (gathered
// over MPI) come from one permutation per (seed, epoch) shared by all ranks: a disjoint cover of the
// dataset plus PyTorch's padding, a different order each epoch.
#include <algorithm>
#include <catch2/catch.hpp>
#include <hnn/data/sampler.hpp>
#include <hnn/distributed/process_group.hpp>
#include <set>

#include "distributed_support.hpp"
#include "reference.hpp"

using namespace hnn;

namespace {

/// Every rank's index list for this (size, shuffle, seed, epoch, drop_last), rank after rank.
std::vector<std::vector<int64_t>> gather_lists(int64_t size, bool shuffle, uint64_t seed, int64_t epoch,
                                               bool drop_last) {
  const int rank = distributed::get_rank(), world = distributed::get_world_size();
  data::DistributedSampler sampler(size, world, rank, shuffle, seed, drop_last);
  sampler.set_epoch(epoch);
  const auto mine = sampler.indices();
  REQUIRE(static_cast<int64_t>(mine.size()) == sampler.num_samples());
  std::vector<double> send(mine.begin(), mine.end());
  const auto all = distributed::detail::allgather_doubles(send.data(), static_cast<int>(send.size()));
  std::vector<std::vector<int64_t>> lists(static_cast<size_t>(world));
  for (size_t i = 0; i < all.size(); ++i) lists[i / mine.size()].push_back(static_cast<int64_t>(all[i]));
  return lists;
}

}  // namespace

TEST_CASE("DistributedSampler without shuffle equals PyTorch's index lists", "[distributed][sampler]") {
  test::ensure_mpi();
  test::References refs("sampler.json");
  const auto names = refs.names();
  REQUIRE(names.size() == 20);
  for (const auto& name : names) {
    const auto c = refs.get(name);
    const auto size = c.param<int64_t>("size"), replicas = c.param<int64_t>("num_replicas");
    const bool drop_last = c.param<bool>("drop_last");
    for (int64_t r = 0; r < replicas; ++r) {
      data::DistributedSampler sampler(size, replicas, r, /*shuffle=*/false, /*seed=*/0, drop_last);
      INFO(c.call() << " with r = " << r);
      CHECK(sampler.num_samples() == c.param<int64_t>("num_samples"));
      CHECK(sampler.indices() == c.tensor<int64_t>("rank" + std::to_string(r)).to_vector());
    }
  }
}

TEST_CASE("DistributedSampler with shuffle: one permutation on every rank, a disjoint cover, new each epoch",
          "[distributed][sampler]") {
  test::ensure_mpi();
  const int world = distributed::get_world_size();
  for (int64_t size : {int64_t{10}, int64_t{11}, int64_t{12}, int64_t{97}}) {
    for (bool drop_last : {false, true}) {
      const auto epoch0 = gather_lists(size, true, 42, 0, drop_last);
      const auto epoch1 = gather_lists(size, true, 42, 1, drop_last);
      const auto again = gather_lists(size, true, 42, 0, drop_last);
      INFO("size " << size << ", world " << world << ", drop_last " << drop_last);
      CHECK(epoch0 == again);  // deterministic in (seed, epoch)
      CHECK(epoch0 != epoch1);
      // Interleaving the ranks' lists gives back the permuted (padded or cut) list.
      std::vector<int64_t> merged;
      for (size_t i = 0; i < epoch0[0].size(); ++i)
        for (int r = 0; r < world; ++r) merged.push_back(epoch0[static_cast<size_t>(r)][i]);
      const int64_t per_rank = drop_last ? size / world : (size + world - 1) / world;
      REQUIRE(static_cast<int64_t>(merged.size()) == per_rank * world);
      const auto kept = static_cast<size_t>(std::min<int64_t>(size, per_rank * world));
      std::set<int64_t> distinct(merged.begin(), merged.begin() + static_cast<std::ptrdiff_t>(kept));
      CHECK(distinct.size() == kept);  // no index twice before the padding
      if (!drop_last) {
        CHECK(static_cast<int64_t>(distinct.size()) == size);  // every index read
        for (size_t i = kept; i < merged.size(); ++i)
          CHECK(merged[i] == merged[i - kept]);  // padding repeats the start
      }
      for (int64_t v : merged) CHECK((v >= 0 && v < size));
    }
  }
}
