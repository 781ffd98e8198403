// Tests of include/hnn/core/allocator.hpp (the CPU caching allocator: alignment, reuse of freed blocks by
// size bucket, the small-block and cache-limit bypasses, empty_cache) and include/hnn/core/random.hpp
// (Generator determinism under a seed, manual_seed, the default generator, unbiased random_below).
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <vector>

#include "hnn/core/allocator.hpp"
#include "hnn/core/random.hpp"
#include "hnn/tensor.hpp"

using hnn::CpuCachingAllocator;

TEST_CASE("allocations are 64-byte aligned and a freed block is handed out again", "[core][allocator]") {
  auto& alloc = CpuCachingAllocator::instance();
  alloc.empty_cache();
  const size_t bytes = 1 << 20;
  void* p = alloc.allocate(bytes);
  REQUIRE(reinterpret_cast<uintptr_t>(p) % CpuCachingAllocator::alignment == 0);
  alloc.deallocate(p, bytes);
  REQUIRE(alloc.cached_bytes() >= bytes);
  // A slightly smaller request falls in the same bucket and gets the same block back.
  void* q = alloc.allocate(bytes - 1000);
  REQUIRE(q == p);
  REQUIRE(alloc.cached_bytes() == 0);
  alloc.deallocate(q, bytes - 1000);
  alloc.empty_cache();
  REQUIRE(alloc.cached_bytes() == 0);
}

TEST_CASE("small blocks bypass the cache; the cache limit is respected", "[core][allocator]") {
  auto& alloc = CpuCachingAllocator::instance();
  alloc.empty_cache();
  void* small = alloc.allocate(256);
  REQUIRE(reinterpret_cast<uintptr_t>(small) % CpuCachingAllocator::alignment == 0);
  alloc.deallocate(small, 256);
  REQUIRE(alloc.cached_bytes() == 0);
  alloc.set_cache_limit(64 * 1024);
  void* big = alloc.allocate(1 << 20);
  alloc.deallocate(big, 1 << 20);
  REQUIRE(alloc.cached_bytes() == 0);  // over the limit: returned to the system
  alloc.set_cache_limit(size_t(1) << 30);
}

TEST_CASE("tensors of the same size reuse storage from the cache", "[core][allocator]") {
  hnn::empty_cache();
  const float* first = nullptr;
  {
    auto t = hnn::zeros<float>({256, 256});
    first = t.data();
  }
  REQUIRE(CpuCachingAllocator::instance().cached_bytes() >= 256 * 256 * sizeof(float));
  auto again = hnn::ones<float>({256, 256});
  REQUIRE(again.data() == first);
  REQUIRE(again.to_vector()[12345] == 1.0f);  // reused memory is overwritten by the creation function
}

TEST_CASE("a Generator replays the same stream for the same seed", "[core][random]") {
  hnn::Generator a(42), b(42), c(43);
  std::vector<uint64_t> sa, sb, sc;
  for (int i = 0; i < 100; ++i) {
    sa.push_back(a.next_u64());
    sb.push_back(b.next_u64());
    sc.push_back(c.next_u64());
  }
  REQUIRE(sa == sb);
  REQUIRE(sa != sc);
  REQUIRE(std::set<uint64_t>(sa.begin(), sa.end()).size() == sa.size());
  REQUIRE(a.initial_seed() == 42);
  // manual_seed restarts the stream, including the cached second Box-Muller value.
  hnn::Generator g(5);
  double n0 = g.normal();
  g.manual_seed(5);
  REQUIRE(g.normal() == n0);
  hnn::Generator h(5);
  (void)h.normal();  // leaves a cached value behind
  h.manual_seed(5);
  REQUIRE(h.normal() == n0);
}

TEST_CASE("random tensors are reproducible through a Generator and through manual_seed", "[core][random]") {
  hnn::Generator g1(7), g2(7);
  REQUIRE(hnn::randn<float>({3, 4}, g1).to_vector() == hnn::randn<float>({3, 4}, g2).to_vector());
  REQUIRE(hnn::rand<double>({5}, g1).to_vector() == hnn::rand<double>({5}, g2).to_vector());
  hnn::manual_seed(123);
  auto x = hnn::randn<double>({10});
  auto y = hnn::rand<float>({10});
  hnn::manual_seed(123);
  REQUIRE(hnn::randn<double>({10}).to_vector() == x.to_vector());
  REQUIRE(hnn::rand<float>({10}).to_vector() == y.to_vector());
  REQUIRE(hnn::randn<double>({10}).to_vector() != x.to_vector());  // the stream moved on
  REQUIRE(hnn::default_generator().initial_seed() == 123);
}

TEST_CASE("random_below covers [0, n) evenly", "[core][random]") {
  hnn::Generator g(9);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) ++counts[g.random_below(7)];
  for (int c : counts) REQUIRE(std::abs(c - 10000) < 500);
  REQUIRE(g.random_below(1) == 0);
  REQUIRE(g.random_below(0) == 0);
  for (int i = 0; i < 1000; ++i) {
    double u = g.uniform();
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
  }
}
