// Support for the MPI tests: a non-throwing tensor comparison (a REQUIRE that stops one rank's test case
// while the others enter a collective would hang the job, so failures are CHECKed and every rank runs
// every collective) and deterministic per-rank data. Depends on hnn/tensor.hpp, hnn/distributed.hpp.
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <hnn/distributed/process_group.hpp>
#include <hnn/tensor.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace hnn::test {

/// Starts MPI once for the executable (MPI_Finalize runs at exit).
inline void ensure_mpi() { hnn::distributed::init_process_group(); }

/// "" when |actual - expected| <= rtol * (|expected| + max|expected|) everywhere, else a description of
/// the worst element (the same criterion as expect_close in reference.hpp).
template <class A, class E>
std::string mismatch(const Tensor<A>& actual, const Tensor<E>& expected, double rtol) {
  if (!actual.defined() || !expected.defined())
    return actual.defined() == expected.defined() ? "" : "one of the tensors is undefined";
  if (actual.shape() != expected.shape()) {
    std::ostringstream os;
    os << "shape " << actual.shape() << " != expected " << expected.shape();
    return os.str();
  }
  const auto a = actual.template cast<double>().to_vector();
  const auto e = expected.template cast<double>().to_vector();
  double scale = 0;
  for (double v : e) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < a.size(); ++i) {
    const double bound = rtol * (scale + std::abs(e[i]));
    if (!(std::abs(a[i] - e[i]) <= bound)) {
      std::ostringstream os;
      os.precision(17);
      os << "element " << i << ": actual " << a[i] << ", expected " << e[i] << " (rtol " << rtol << ")";
      return os.str();
    }
  }
  return "";
}

/// n values with mean `offset` and spread `scale`, from a seed: the same on every rank.
template <class T>
std::vector<T> seeded_values(uint64_t seed, size_t n, double offset = 0.0, double scale = 1.0) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> dist(offset, scale);
  std::vector<T> out(n);
  for (auto& v : out) v = static_cast<T>(dist(gen));
  return out;
}

}  // namespace hnn::test

/// CHECKs that two tensors agree, naming what is compared and the rank.
#define HNN_CHECK_CLOSE(actual, expected, rtol, what)                                         \
  do {                                                                                        \
    const std::string hnn_mismatch_ = ::hnn::test::mismatch((actual), (expected), (rtol));    \
    INFO("rank " << ::hnn::distributed::get_rank() << ", " << what << ": " << hnn_mismatch_); \
    CHECK(hnn_mismatch_.empty());                                                             \
  } while (0)
