// The process group's collectives under mpirun: all_reduce (SUM, AVG, MAX, MIN) and broadcast on sizes
// 0, 1 and 2^20 + 3 for float, double and int64, non-contiguous tensors, rank/world queries, barrier,
// the non-blocking Work handle, and bad arguments. Expected values are computed from the formula each
// rank used to fill its tensor.
#include <catch2/catch.hpp>
#include <hnn/distributed/process_group.hpp>
#include <hnn/tensor.hpp>

#include "distributed_support.hpp"

using namespace hnn;

namespace {

/// Rank r's element i: small integers, exact in float and double, so every reduction order agrees.
double value(int rank, int64_t i) { return static_cast<double>((rank + 1) * (i % 7) - 3 * rank + i % 5); }

template <class T>
Tensor<T> rank_tensor(int rank, int64_t n) {
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<T>(value(rank, i));
  return tensor<T>(v, Shape{n});
}

template <class T>
void check_all_reduce(int64_t n) {
  const int rank = distributed::get_rank(), world = distributed::get_world_size();
  for (auto op : {distributed::ReduceOp::SUM, distributed::ReduceOp::AVG, distributed::ReduceOp::MAX,
                  distributed::ReduceOp::MIN}) {
    Tensor<T> t = rank_tensor<T>(rank, n);
    distributed::all_reduce(t, op);
    std::vector<T> expected(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      double sum = 0, mx = -1e300, mn = 1e300;
      for (int r = 0; r < world; ++r) {
        sum += value(r, i);
        mx = std::max(mx, value(r, i));
        mn = std::min(mn, value(r, i));
      }
      T e{};
      switch (op) {
        case distributed::ReduceOp::SUM:
          e = static_cast<T>(sum);
          break;
        case distributed::ReduceOp::AVG:
          if constexpr (std::is_floating_point_v<T>)
            e = static_cast<T>(sum) * (T(1) / static_cast<T>(world));
          else
            e = static_cast<T>(sum) / world;
          break;
        case distributed::ReduceOp::MAX:
          e = static_cast<T>(mx);
          break;
        case distributed::ReduceOp::MIN:
          e = static_cast<T>(mn);
          break;
      }
      expected[static_cast<size_t>(i)] = e;
    }
    const auto got = t.to_vector();
    INFO("rank " << rank << ", n = " << n << ", op " << static_cast<int>(op));
    CHECK(got == expected);
  }
}

template <class T>
void check_broadcast(int64_t n) {
  const int rank = distributed::get_rank(), world = distributed::get_world_size();
  for (int src = 0; src < world; ++src) {
    Tensor<T> t = rank_tensor<T>(rank, n);
    distributed::broadcast(t, src);
    INFO("rank " << rank << ", n = " << n << ", src " << src);
    CHECK(t.to_vector() == rank_tensor<T>(src, n).to_vector());
  }
}

}  // namespace

TEST_CASE("rank and world size are consistent on every rank", "[distributed]") {
  test::ensure_mpi();
  const int rank = distributed::get_rank(), world = distributed::get_world_size();
  CHECK(distributed::is_initialized());
  CHECK(world >= 1);
  CHECK(rank >= 0);
  CHECK(rank < world);
  // Every rank contributes its rank: the sum is world (world - 1) / 2 and the max is world - 1.
  Tensor<int64_t> t = tensor<int64_t>({rank, 1}, Shape{2});
  distributed::all_reduce(t);
  CHECK(t.to_vector() == std::vector<int64_t>{int64_t{world} * (world - 1) / 2, world});
  distributed::barrier();
  distributed::init_process_group();  // a second call is a no-op
  CHECK(distributed::get_world_size() == world);
}

TEMPLATE_TEST_CASE("all_reduce and broadcast on sizes 0, 1 and 2^20 + 3", "[distributed]", float, double,
                   int64_t) {
  test::ensure_mpi();
  for (int64_t n : {int64_t{0}, int64_t{1}, (int64_t{1} << 20) + 3}) {
    check_all_reduce<TestType>(n);
    check_broadcast<TestType>(n);
  }
}

TEST_CASE("all_reduce and broadcast write through non-contiguous views", "[distributed]") {
  test::ensure_mpi();
  const int rank = distributed::get_rank(), world = distributed::get_world_size();
  Tensor<double> m = rank_tensor<double>(rank, 12).reshape({3, 4});
  Tensor<double> col = m.transpose(0, 1);  // (4, 3), not contiguous, shares m's storage
  distributed::all_reduce(col, distributed::ReduceOp::SUM);
  std::vector<double> expected(12);
  for (int64_t i = 0; i < 12; ++i)
    for (int r = 0; r < world; ++r) expected[static_cast<size_t>(i)] += value(r, i);
  CHECK(m.to_vector() == expected);

  Tensor<float> b = rank_tensor<float>(rank, 12).reshape({3, 4});
  distributed::broadcast(b.transpose(0, 1), 0);
  CHECK(b.to_vector() == rank_tensor<float>(0, 12).to_vector());
}

TEST_CASE("a parameter with requires_grad is reduced in place without touching its graph", "[distributed]") {
  test::ensure_mpi();
  const int world = distributed::get_world_size();
  Tensor<float> w = ones<float>({5});
  w.requires_grad_(true);
  distributed::all_reduce(w, distributed::ReduceOp::SUM);
  CHECK(w.requires_grad());
  CHECK(w.is_leaf());
  CHECK(w.to_vector() == std::vector<float>(5, static_cast<float>(world)));
}

TEST_CASE("Work::iallreduce completes in the background and matches all_reduce", "[distributed]") {
  test::ensure_mpi();
  const int rank = distributed::get_rank();
  Tensor<double> a = rank_tensor<double>(rank, 1000), b = rank_tensor<double>(rank, 1000);
  auto work = distributed::Work::iallreduce(a.data(), a.numel(), distributed::ReduceOp::SUM);
  CHECK(work.pending());
  work.wait();
  CHECK_FALSE(work.pending());
  CHECK(work.test());
  distributed::all_reduce(b, distributed::ReduceOp::SUM);
  CHECK(a.to_vector() == b.to_vector());
  CHECK_THROWS_AS(distributed::Work::iallreduce(a.data(), 1, distributed::ReduceOp::AVG),
                  std::invalid_argument);
}

TEST_CASE("bad arguments throw on every rank with the function and the value named", "[distributed]") {
  test::ensure_mpi();
  const int world = distributed::get_world_size();
  Tensor<float> t = zeros<float>({3});
  try {
    distributed::broadcast(t, world);
    FAIL("broadcast from a rank that does not exist must throw");
  } catch (const std::invalid_argument& e) {
    CHECK_THAT(e.what(), Catch::Contains("broadcast") && Catch::Contains(std::to_string(world)));
  }
  Tensor<float> undefined;
  CHECK_THROWS_AS(distributed::all_reduce(undefined), std::invalid_argument);
  CHECK_THROWS_AS(distributed::broadcast(t, -1), std::invalid_argument);
}
