// Tests of the CPU batch-norm kernels (include/hnn/kernels/cpu/batch_norm.hpp) against a naive
// long-double reference: statistics, forward train/eval, running update, backward train/eval.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "hnn/kernels/cpu/batch_norm.hpp"

using bn = hnn::kernels::cpu::BatchNorm;

namespace {

using ld = long double;

struct Shape {
  int64_t N, C, S;
  std::string str() const {
    // Appended piece by piece: "(" + std::string&& trips GCC 12's -Wrestrict at -O3 (bug 105651).
    std::string s = "(";
    s += std::to_string(N);
    s += ',';
    s += std::to_string(C);
    s += ',';
    s += std::to_string(S);
    s += ')';
    return s;
  }
  int64_t total() const { return N * C * S; }
};

// Small shapes run on one thread; the larger ones (>= 32K elements) go through the parallel paths,
// including groups split into parts (C = 1 or 3, or a single strip of channels when S = 1).
const std::vector<Shape> kShapes = {
    {4, 3, 1},    {2, 1, 1},    {1, 2, 2},     {256, 16, 1},  {3, 130, 1},   {64, 300, 1},   {7, 5, 13},
    {2, 6, 576},  {33, 257, 3}, {5, 2, 20000}, {40000, 3, 1}, {2048, 3, 17}, {1, 1, 100000}, {1, 3, 40000},
    {256, 6, 64}, {64, 64, 49}, {300, 129, 1}, {2, 1, 70001}, {9, 5, 4099},  {16, 2, 4096},
};

template <class T>
constexpr double tolerance() {
  return std::is_same_v<T, float> ? 1e-5 : 1e-10;
}

/// Statistics and backward sums: double input is summed in double (1e-12 relative is ~100 ulps after
/// 1e5 additions); float input is summed in float about a per-channel pivot, at most 64 terms per
/// accumulator before the partial sums go to double. The float error is then a few ulps of the sum
/// of |terms|; sum dy * (x - mean) of random dy cancels to about sqrt(count) terms' worth, hence 5e-6
/// relative to the largest channel's result (grad_weight, dx and y still meet 1e-5 below).
template <class T>
constexpr double stats_tolerance(double double_tol) {
  return std::is_same_v<T, float> ? 5e-6 : double_tol;
}

/// max |got - want| / max(max |want|, floor): error relative to the scale of the reference.
template <class A>
double scaled_error(const A* got, const std::vector<ld>& want, double floor = 1e-300) {
  ld scale = floor, err = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    scale = std::max(scale, std::fabs(want[i]));
    err = std::max(err, std::fabs(static_cast<ld>(got[i]) - want[i]));
  }
  return static_cast<double>(err / scale);
}

template <class A>
double scaled_error(const std::vector<A>& got, const std::vector<ld>& want, double floor = 1e-300) {
  REQUIRE(got.size() == want.size());
  return scaled_error(got.data(), want, floor);
}

template <class T>
struct Data {
  Shape shape;
  std::vector<T> x, dy, weight, bias, running_mean, running_var;
};

/// x[n, c, s] = offset + channel mean + channel scale * normal; values are T, so the reference sees
/// exactly what the kernel sees.
template <class T>
Data<T> make_data(const Shape& s, double offset, uint32_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(0.5, 2.0);
  Data<T> d{s,
            std::vector<T>(static_cast<size_t>(s.total())),
            std::vector<T>(static_cast<size_t>(s.total())),
            {},
            {},
            {},
            {}};
  std::vector<double> chan_mean(static_cast<size_t>(s.C)), chan_scale(static_cast<size_t>(s.C));
  for (int64_t c = 0; c < s.C; ++c) {
    chan_mean[static_cast<size_t>(c)] = offset + normal(gen);
    chan_scale[static_cast<size_t>(c)] = offset != 0 ? 1.0 : uniform(gen);
  }
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t c = 0; c < s.C; ++c)
      for (int64_t i = 0; i < s.S; ++i) {
        const size_t k = static_cast<size_t>((n * s.C + c) * s.S + i);
        d.x[k] = static_cast<T>(chan_mean[static_cast<size_t>(c)] +
                                chan_scale[static_cast<size_t>(c)] * normal(gen));
        d.dy[k] = static_cast<T>(normal(gen));
      }
  for (int64_t c = 0; c < s.C; ++c) {
    d.weight.push_back(static_cast<T>(uniform(gen)));
    d.bias.push_back(static_cast<T>(normal(gen)));
    d.running_mean.push_back(static_cast<T>(offset + 0.1 * normal(gen)));
    d.running_var.push_back(static_cast<T>(uniform(gen)));
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// Naive long-double reference, one channel at a time, straight from the formulas.

struct RefStats {
  std::vector<ld> mean, m2;
};

template <class T>
RefStats ref_stats(const Data<T>& d) {
  const auto [N, C, S] = d.shape;
  RefStats r{std::vector<ld>(static_cast<size_t>(C)), std::vector<ld>(static_cast<size_t>(C))};
  for (int64_t c = 0; c < C; ++c) {
    ld sum = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) sum += d.x[static_cast<size_t>((n * C + c) * S + i)];
    const ld mean = sum / static_cast<ld>(N * S);
    ld m2 = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) {
        const ld dev = d.x[static_cast<size_t>((n * C + c) * S + i)] - mean;
        m2 += dev * dev;
      }
    r.mean[static_cast<size_t>(c)] = mean;
    r.m2[static_cast<size_t>(c)] = m2;
  }
  return r;
}

/// y = (x - mean) * invstd * weight + bias with per-channel long-double constants.
template <class T>
std::vector<ld> ref_normalize(const Data<T>& d, const std::vector<ld>& mean, const std::vector<ld>& invstd,
                              bool affine) {
  const auto [N, C, S] = d.shape;
  std::vector<ld> y(static_cast<size_t>(d.shape.total()));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < S; ++i) {
        const size_t k = static_cast<size_t>((n * C + c) * S + i);
        const size_t cc = static_cast<size_t>(c);
        const ld w = affine ? static_cast<ld>(d.weight[cc]) : 1, b = affine ? static_cast<ld>(d.bias[cc]) : 0;
        y[k] = (d.x[k] - mean[cc]) * invstd[cc] * w + b;
      }
  return y;
}

struct RefBackward {
  std::vector<ld> dx, grad_weight, grad_bias;
};

/// Closed-form gradients; training uses batch statistics (mean/invstd are then those of x).
template <class T>
RefBackward ref_backward(const Data<T>& d, const std::vector<ld>& mean, const std::vector<ld>& invstd,
                         bool affine, bool training) {
  const auto [N, C, S] = d.shape;
  const ld count = static_cast<ld>(N * S);
  RefBackward r{std::vector<ld>(static_cast<size_t>(d.shape.total())),
                std::vector<ld>(static_cast<size_t>(C)), std::vector<ld>(static_cast<size_t>(C))};
  for (int64_t c = 0; c < C; ++c) {
    const size_t cc = static_cast<size_t>(c);
    ld sum_dy = 0, sum_dy_xmu = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) {
        const size_t k = static_cast<size_t>((n * C + c) * S + i);
        sum_dy += d.dy[k];
        sum_dy_xmu += d.dy[k] * (d.x[k] - mean[cc]);
      }
    r.grad_bias[cc] = sum_dy;
    r.grad_weight[cc] = sum_dy_xmu * invstd[cc];
    const ld w = affine ? static_cast<ld>(d.weight[cc]) : 1;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < S; ++i) {
        const size_t k = static_cast<size_t>((n * C + c) * S + i);
        if (training)
          r.dx[k] =
              w * invstd[cc] *
              (d.dy[k] - sum_dy / count - (d.x[k] - mean[cc]) * invstd[cc] * invstd[cc] * sum_dy_xmu / count);
        else
          r.dx[k] = d.dy[k] * w * invstd[cc];
      }
  }
  return r;
}

std::vector<ld> invstd_of(const RefStats& s, int64_t count, double eps) {
  std::vector<ld> r;
  for (ld m2 : s.m2) r.push_back(1 / std::sqrt(m2 / static_cast<ld>(count) + static_cast<ld>(eps)));
  return r;
}

template <class T>
std::vector<ld> widen(const std::vector<T>& v) {
  return std::vector<ld>(v.begin(), v.end());
}

/// Runs body once per thread count the build can use (1..4 with OpenMP, else 1).
template <class Body>
void for_thread_counts(Body&& body) {
#ifdef HNN_WITH_OPENMP
  const int saved = omp_get_max_threads();
  for (int t : {1, 2, 3, 4}) {
    omp_set_num_threads(t);
    body(t);
  }
  omp_set_num_threads(saved);
#else
  body(1);
#endif
}

template <class T>
void check_forward_train(const Data<T>& d, bool affine, bool track, double momentum, double eps) {
  const auto [N, C, S] = d.shape;
  const size_t Cs = static_cast<size_t>(C);
  const RefStats ref = ref_stats(d);
  const std::vector<ld> ref_invstd = invstd_of(ref, N * S, eps);
  const std::vector<ld> ref_y = ref_normalize(d, ref.mean, ref_invstd, affine);
  std::vector<ld> ref_rm(Cs), ref_rv(Cs);
  for (size_t c = 0; c < Cs; ++c) {
    const ld unbiased = ref.m2[c] / static_cast<ld>(N * S - 1);
    ref_rm[c] = (1 - static_cast<ld>(momentum)) * d.running_mean[c] + static_cast<ld>(momentum) * ref.mean[c];
    ref_rv[c] = (1 - static_cast<ld>(momentum)) * d.running_var[c] + static_cast<ld>(momentum) * unbiased;
  }
  std::vector<T> y(d.x.size()), rm = d.running_mean, rv = d.running_var;
  std::vector<double> save_mean(Cs), save_invstd(Cs);
  bn::forward_train(d.x.data(), y.data(), N, C, S, affine ? d.weight.data() : nullptr,
                    affine ? d.bias.data() : nullptr, eps, momentum, track ? rm.data() : nullptr,
                    track ? rv.data() : nullptr, save_mean.data(), save_invstd.data());
  const double tol = tolerance<T>();
  CHECK(scaled_error(y, ref_y) < tol);
  // The mean is measured against the spread of the channel, so an offset of 1e3 does not hide a
  // cancellation.
  CHECK(scaled_error(save_invstd, ref_invstd) < stats_tolerance<T>(1e-10));
  for (size_t c = 0; c < Cs; ++c)
    CHECK(std::fabs(save_mean[c] - ref.mean[c]) * ref_invstd[c] < stats_tolerance<T>(1e-10));
  if (track) {
    CHECK(scaled_error(rm, ref_rm) < tol);
    CHECK(scaled_error(rv, ref_rv) < tol);
  } else {
    CHECK(rm == d.running_mean);
    CHECK(rv == d.running_var);
  }
}

template <class T>
void check_shapes_forward_train(double offset) {
  for (const Shape& s : kShapes) {
    const Data<T> d = make_data<T>(s, offset, static_cast<uint32_t>(s.total() + s.C));
    for_thread_counts([&](int threads) {
      INFO("shape " << s.str() << " threads " << threads << " offset " << offset);
      check_forward_train(d, true, true, 0.1, 1e-5);
      if (threads == 2) {
        check_forward_train(d, false, true, 0.3, 1e-3);
        check_forward_train(d, true, false, 1.0, 1e-5);
        check_forward_train(d, false, false, 0.1, 0.0);
      }
    });
  }
}

}  // namespace

TEST_CASE("batch_norm_stats matches a long-double two-pass reference", "[kernels][batch_norm]") {
  auto run = [](auto tag, double offset) {
    using T = decltype(tag);
    for (const Shape& s : kShapes) {
      const Data<T> d = make_data<T>(s, offset, static_cast<uint32_t>(s.total()));
      const RefStats ref = ref_stats(d);
      for_thread_counts([&](int threads) {
        INFO("shape " << s.str() << " threads " << threads << " offset " << offset);
        std::vector<double> mean(static_cast<size_t>(s.C)), m2(static_cast<size_t>(s.C));
        bn::stats(d.x.data(), s.N, s.C, s.S, mean.data(), m2.data());
        CHECK(scaled_error(m2, ref.m2) < stats_tolerance<T>(1e-12));
        for (size_t c = 0; c < mean.size(); ++c) {
          const ld spread = std::sqrt(std::max(ref.m2[c] / static_cast<ld>(s.N * s.S), ld(1e-300)));
          CHECK(std::fabs(mean[c] - ref.mean[c]) <
                stats_tolerance<T>(1e-12) * (spread + std::fabs(ref.mean[c])));
          if (s.N * s.S > 1)
            CHECK(std::fabs(mean[c] - ref.mean[c]) < stats_tolerance<T>(1e-12) * std::max(spread, ld(1)));
        }
      });
    }
  };
  run(float{}, 0.0);
  run(float{}, 1e3);
  run(double{}, 0.0);
  run(double{}, 1e3);
}

TEST_CASE("batch_norm_stats keeps its precision when samples differ in mean", "[kernels][batch_norm]") {
  // Long planes are summed in memory order about a pivot that is the mean of the channel so far, not of
  // the values being summed: samples drifting away from it, or one sample far from the rest, must not
  // cost precision. Per shape, x[n, c, s] = 1e3 + shift(n) + normal, with the shifts of every pattern.
  auto run = [](auto tag) {
    using T = decltype(tag);
    const std::vector<Shape> shapes = {{16, 3, 4096}, {6, 2, 20000}, {64, 5, 576}, {32, 4, 100}, {512, 3, 1}};
    for (const Shape& s : shapes)
      for (int pattern = 0; pattern < 3; ++pattern) {
        Data<T> d = make_data<T>(s, 1e3, static_cast<uint32_t>(s.total() + pattern));
        for (int64_t n = 0; n < s.N; ++n) {
          const double shift = pattern == 0   ? 50.0 * static_cast<double>(n)  // drift
                               : pattern == 1 ? (n == s.N - 1 ? 1e4 : 0.0)     // one outlier
                                              : (2 * n < s.N ? 0.0 : 300.0);   // two halves
          for (int64_t i = n * s.C * s.S; i < (n + 1) * s.C * s.S; ++i)
            d.x[static_cast<size_t>(i)] =
                static_cast<T>(static_cast<double>(d.x[static_cast<size_t>(i)]) + shift);
        }
        const RefStats ref = ref_stats(d);
        for_thread_counts([&](int threads) {
          INFO("shape " << s.str() << " pattern " << pattern << " threads " << threads);
          std::vector<double> mean(static_cast<size_t>(s.C)), m2(static_cast<size_t>(s.C));
          bn::stats(d.x.data(), s.N, s.C, s.S, mean.data(), m2.data());
          CHECK(scaled_error(m2, ref.m2) < stats_tolerance<T>(1e-12));
          for (size_t c = 0; c < mean.size(); ++c) {
            const ld spread = std::sqrt(ref.m2[c] / static_cast<ld>(s.N * s.S));
            CHECK(std::fabs(mean[c] - ref.mean[c]) < stats_tolerance<T>(1e-12) * spread);
          }
        });
      }
  };
  run(float{});
  run(double{});
}

TEST_CASE("batch_norm_forward_train: y, saved statistics and running update (float)",
          "[kernels][batch_norm]") {
  check_shapes_forward_train<float>(0.0);
}
TEST_CASE("batch_norm_forward_train: mean-1e3 inputs keep float precision", "[kernels][batch_norm]") {
  check_shapes_forward_train<float>(1e3);
}
TEST_CASE("batch_norm_forward_train: y, saved statistics and running update (double)",
          "[kernels][batch_norm]") {
  check_shapes_forward_train<double>(0.0);
  check_shapes_forward_train<double>(1e3);
}

TEST_CASE("batch_norm_forward_eval uses running statistics", "[kernels][batch_norm]") {
  auto run = [](auto tag, double offset) {
    using T = decltype(tag);
    for (const Shape& s : kShapes) {
      const Data<T> d = make_data<T>(s, offset, static_cast<uint32_t>(s.total() * 3));
      const double eps = 1e-5;
      std::vector<ld> invstd;
      for (T v : d.running_var) invstd.push_back(1 / std::sqrt(static_cast<ld>(v) + static_cast<ld>(eps)));
      for (bool affine : {true, false}) {
        const std::vector<ld> ref_y = ref_normalize(d, widen(d.running_mean), invstd, affine);
        for_thread_counts([&](int threads) {
          INFO("shape " << s.str() << " threads " << threads << " offset " << offset << " affine " << affine);
          std::vector<T> y(d.x.size());
          bn::forward_eval(d.x.data(), y.data(), s.N, s.C, s.S, d.running_mean.data(), d.running_var.data(),
                           affine ? d.weight.data() : nullptr, affine ? d.bias.data() : nullptr, eps);
          CHECK(scaled_error(y, ref_y) < tolerance<T>());
        });
      }
    }
  };
  run(float{}, 0.0);
  run(float{}, 1e3);
  run(double{}, 0.0);
  run(double{}, 1e3);
}

TEST_CASE("batch_norm_update_running: unbiased variance and the momentum formula", "[kernels][batch_norm]") {
  // Two channels, count 4: values {1, 2, 3, 4} -> mean 2.5, M2 5, unbiased var 5/3 (biased would be 1.25).
  const double mean[2] = {2.5, -1.0}, m2[2] = {5.0, 0.0};
  double running_mean[2] = {0.0, 1.0}, running_var[2] = {1.0, 2.0};
  bn::update_running(running_mean, running_var, mean, m2, 2, 4, 0.1);
  CHECK(running_mean[0] == Approx(0.9 * 0.0 + 0.1 * 2.5).epsilon(1e-15));
  CHECK(running_var[0] == Approx(0.9 * 1.0 + 0.1 * 5.0 / 3.0).epsilon(1e-15));
  CHECK(running_mean[1] == Approx(0.9 * 1.0 + 0.1 * -1.0).epsilon(1e-15));
  CHECK(running_var[1] == Approx(0.9 * 2.0).epsilon(1e-15));
  // momentum 1 replaces the buffers with the batch values (momentum=None passes 1/num_batches_tracked).
  float rm[1] = {7.0f}, rv[1] = {7.0f};
  bn::update_running(rm, rv, mean, m2, 1, 4, 1.0);
  CHECK(rm[0] == 2.5f);
  CHECK(rv[0] == static_cast<float>(5.0 / 3.0));
  // Null buffers are skipped.
  bn::update_running<float>(nullptr, rv, mean, m2, 1, 4, 0.5);
  CHECK(rv[0] == static_cast<float>(0.5 * 5.0 / 3.0 + 0.5 * static_cast<float>(5.0 / 3.0)));
  bn::update_running<float>(rm, nullptr, mean, m2, 1, 4, 0.5);
  CHECK(rm[0] == 2.5f);
}

TEST_CASE("batch_norm_forward_train on arange(9).reshape(3,3) matches PyTorch's walkthrough",
          "[kernels][batch_norm]") {
  // torch.nn.BatchNorm1d(3)(torch.arange(9.).reshape(3, 3)): y = [-1.2247, 0, 1.2247] per column
  // (3 / sqrt(6 + 1e-5) = 1.2247439),
  // running_mean = 0.1 * [3, 4, 5], running_var = 0.9 + 0.1 * 9.
  const float x[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  float y[9], rm[3] = {0, 0, 0}, rv[3] = {1, 1, 1};
  double save_mean[3], save_invstd[3];
  bn::forward_train<float>(x, y, 3, 3, 1, nullptr, nullptr, 1e-5, 0.1, rm, rv, save_mean, save_invstd);
  for (int c = 0; c < 3; ++c) {
    CHECK(y[c] == Approx(-1.2247439).epsilon(1e-6));
    CHECK(y[3 + c] == Approx(0.0).margin(1e-7));
    CHECK(y[6 + c] == Approx(1.2247439).epsilon(1e-6));
    CHECK(rm[c] == Approx(0.3 + 0.1 * c).epsilon(1e-6));
    CHECK(rv[c] == Approx(1.8).epsilon(1e-6));
    CHECK(save_mean[c] == 3.0 + c);
    CHECK(save_invstd[c] == Approx(1.0 / std::sqrt(6.0 + 1e-5)).epsilon(1e-14));
  }
}

TEST_CASE("fused forward_train equals stats + elemt + update_running", "[kernels][batch_norm]") {
  auto run = [](auto tag) {
    using T = decltype(tag);
    for (const Shape& s : kShapes) {
      const Data<T> d = make_data<T>(s, 1e3, static_cast<uint32_t>(s.total() * 5));
      for_thread_counts([&](int threads) {
        INFO("shape " << s.str() << " threads " << threads);
        const size_t C = static_cast<size_t>(s.C);
        const double eps = 1e-5, momentum = 0.1;
        std::vector<T> y(d.x.size()), rm = d.running_mean, rv = d.running_var;
        std::vector<double> save_mean(C), save_invstd(C);
        bn::forward_train(d.x.data(), y.data(), s.N, s.C, s.S, d.weight.data(), d.bias.data(), eps, momentum,
                          rm.data(), rv.data(), save_mean.data(), save_invstd.data());
        std::vector<double> mean(C), m2(C), invstd(C);
        bn::stats(d.x.data(), s.N, s.C, s.S, mean.data(), m2.data());
        for (size_t c = 0; c < C; ++c)
          invstd[c] = 1.0 / std::sqrt(m2[c] / static_cast<double>(s.N * s.S) + eps);
        std::vector<T> y2(d.x.size()), rm2 = d.running_mean, rv2 = d.running_var;
        bn::elemt(d.x.data(), y2.data(), s.N, s.C, s.S, mean.data(), invstd.data(), d.weight.data(),
                  d.bias.data());
        bn::update_running(rm2.data(), rv2.data(), mean.data(), m2.data(), s.C, s.N * s.S, momentum);
        // Same decomposition, same rounding: identical bits.
        CHECK(save_mean == mean);
        CHECK(save_invstd == invstd);
        CHECK(y == y2);
        CHECK(rm == rm2);
        CHECK(rv == rv2);
      });
    }
  };
  run(float{});
  run(double{});
}

TEST_CASE("batch_norm_elemt is in-place safe", "[kernels][batch_norm]") {
  const Data<float> d = make_data<float>({8, 5, 7}, 0.0, 11);
  std::vector<double> mean(5, 0.25), invstd(5, 2.0);
  std::vector<float> y(d.x.size()), inplace = d.x;
  bn::elemt(d.x.data(), y.data(), 8, 5, 7, mean.data(), invstd.data(), d.weight.data(), d.bias.data());
  bn::elemt(inplace.data(), inplace.data(), 8, 5, 7, mean.data(), invstd.data(), d.weight.data(),
            d.bias.data());
  CHECK(y == inplace);
}

namespace {

template <class T>
void check_backward(const Data<T>& d, bool affine, bool training, double offset) {
  const auto [N, C, S] = d.shape;
  const size_t Cs = static_cast<size_t>(C);
  const double eps = 1e-5;
  // Training: batch statistics as the forward saved them. Eval: running statistics.
  std::vector<double> mean(Cs), invstd(Cs);
  if (training) {
    std::vector<T> y(d.x.size());
    bn::forward_train<T>(d.x.data(), y.data(), N, C, S, nullptr, nullptr, eps, 0.1, nullptr, nullptr,
                         mean.data(), invstd.data());
  } else {
    for (size_t c = 0; c < Cs; ++c) {
      mean[c] = static_cast<double>(d.running_mean[c]);
      invstd[c] = 1.0 / std::sqrt(static_cast<double>(d.running_var[c]) + eps);
    }
  }
  std::vector<ld> ref_mean, ref_invstd;
  if (training) {
    const RefStats ref = ref_stats(d);
    ref_mean = ref.mean;
    ref_invstd = invstd_of(ref, N * S, eps);
  } else {
    ref_mean = widen(mean);
    ref_invstd = widen(invstd);
  }
  const RefBackward ref = ref_backward(d, ref_mean, ref_invstd, affine, training);
  const T* weight = affine ? d.weight.data() : nullptr;
  std::vector<T> dx(d.x.size()), grad_weight(Cs), grad_bias(Cs);
  bn::backward(d.dy.data(), d.x.data(), N, C, S, weight, mean.data(), invstd.data(), training, dx.data(),
               grad_weight.data(), grad_bias.data());
  INFO("shape " << d.shape.str() << " affine " << affine << " training " << training << " offset " << offset);
  const double tol = tolerance<T>();
  // dx is a difference of terms of size |weight * invstd * dy|; when they cancel (N*S = 2 makes dx
  // almost 0) the error is measured against that size, not against the tiny result.
  ld dx_floor = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < S; ++i)
        dx_floor = std::max(dx_floor, std::fabs(d.dy[static_cast<size_t>((n * C + c) * S + i)] *
                                                (affine ? d.weight[static_cast<size_t>(c)] : T(1)) *
                                                ref_invstd[static_cast<size_t>(c)]));
  CHECK(scaled_error(dx, ref.dx, static_cast<double>(dx_floor)) < tol);
  CHECK(scaled_error(grad_weight, ref.grad_weight) < tol);
  CHECK(scaled_error(grad_bias, ref.grad_bias) < tol);

  // Any subset of outputs gives the same values for what it computes.
  std::vector<T> dx_only(d.x.size()), grad_weight_only(Cs), grad_bias_only(Cs);
  bn::backward<T>(d.dy.data(), d.x.data(), N, C, S, weight, mean.data(), invstd.data(), training,
                  dx_only.data(), nullptr, nullptr);
  bn::backward<T>(d.dy.data(), d.x.data(), N, C, S, weight, mean.data(), invstd.data(), training, nullptr,
                  grad_weight_only.data(), nullptr);
  bn::backward<T>(d.dy.data(), d.x.data(), N, C, S, weight, mean.data(), invstd.data(), training, nullptr,
                  nullptr, grad_bias_only.data());
  CHECK(dx_only == dx);
  CHECK(grad_weight_only == grad_weight);
  CHECK(grad_bias_only == grad_bias);

  // The composed path (what SyncBatchNorm runs, with an all-reduce in between) gives identical bits.
  if (training) {
    std::vector<double> sum_dy(Cs), sum_dy_xmu(Cs);
    bn::backward_reduce(d.dy.data(), d.x.data(), N, C, S, mean.data(), sum_dy.data(), sum_dy_xmu.data());
    std::vector<ld> ref_sum_dy(Cs), ref_sum_dy_xmu(Cs);
    for (size_t c = 0; c < Cs; ++c) {
      ref_sum_dy[c] = ref.grad_bias[c];
      ref_sum_dy_xmu[c] = ref.grad_weight[c] / ref_invstd[c];
    }
    CHECK(scaled_error(sum_dy, ref_sum_dy) < stats_tolerance<T>(1e-12));
    CHECK(scaled_error(sum_dy_xmu, ref_sum_dy_xmu) < stats_tolerance<T>(1e-10));
    std::vector<T> dx2(d.x.size());
    bn::backward_elemt(d.dy.data(), d.x.data(), dx2.data(), N, C, S, mean.data(), invstd.data(), weight,
                       sum_dy.data(), sum_dy_xmu.data(), N * S);
    CHECK(dx2 == dx);
    for (size_t c = 0; c < Cs; ++c) {
      CHECK(grad_bias[c] == static_cast<T>(sum_dy[c]));
      CHECK(grad_weight[c] == static_cast<T>(sum_dy_xmu[c] * invstd[c]));
    }
  }
}

template <class T>
void check_shapes_backward(double offset) {
  for (const Shape& s : kShapes) {
    const Data<T> d = make_data<T>(s, offset, static_cast<uint32_t>(s.total() * 7 + 1));
    for_thread_counts([&](int threads) {
      INFO("threads " << threads);
      check_backward(d, true, true, offset);
      check_backward(d, true, false, offset);
      if (threads == 2) {
        check_backward(d, false, true, offset);
        check_backward(d, false, false, offset);
      }
    });
  }
}

}  // namespace

TEST_CASE("batch_norm_backward: training and eval gradients (float)", "[kernels][batch_norm]") {
  check_shapes_backward<float>(0.0);
  check_shapes_backward<float>(1e3);
}
TEST_CASE("batch_norm_backward: training and eval gradients (double)", "[kernels][batch_norm]") {
  check_shapes_backward<double>(0.0);
  check_shapes_backward<double>(1e3);
}

TEST_CASE("batch_norm_backward_elemt takes the count and sums it is given", "[kernels][batch_norm]") {
  // Two replicas of SyncBatchNorm: each reduces its half, the sums are added (the all-reduce), and
  // each computes dx of its half with the global statistics and count: the result is the gradient
  // of the whole batch.
  const Shape whole{16, 3, 10}, half{8, 3, 10};
  const Data<double> d = make_data<double>(whole, 0.0, 5);
  const size_t H = static_cast<size_t>(half.total());
  std::vector<double> mean(3), invstd(3), y(d.x.size());
  bn::forward_train<double>(d.x.data(), y.data(), whole.N, 3, 10, nullptr, nullptr, 1e-5, 0.1, nullptr,
                            nullptr, mean.data(), invstd.data());
  std::vector<double> sum_dy(3, 0.0), sum_dy_xmu(3, 0.0);
  for (int replica = 0; replica < 2; ++replica) {
    std::vector<double> part_dy(3), part_dy_xmu(3);
    bn::backward_reduce(d.dy.data() + replica * H, d.x.data() + replica * H, half.N, 3, 10, mean.data(),
                        part_dy.data(), part_dy_xmu.data());
    for (size_t c = 0; c < 3; ++c) {
      sum_dy[c] += part_dy[c];
      sum_dy_xmu[c] += part_dy_xmu[c];
    }
  }
  std::vector<double> dx(d.x.size());
  for (int replica = 0; replica < 2; ++replica)
    bn::backward_elemt(d.dy.data() + replica * H, d.x.data() + replica * H, dx.data() + replica * H, half.N,
                       3, 10, mean.data(), invstd.data(), d.weight.data(), sum_dy.data(), sum_dy_xmu.data(),
                       whole.N * whole.S);
  const RefStats ref = ref_stats(d);
  const RefBackward want = ref_backward(d, ref.mean, invstd_of(ref, whole.N * whole.S, 1e-5), true, true);
  CHECK(scaled_error(dx, want.dx) < 1e-10);
}

TEST_CASE("batch_norm kernels accept empty inputs", "[kernels][batch_norm]") {
  std::vector<double> mean(2, 7.0), m2(2, 7.0);
  bn::stats<float>(nullptr, 0, 2, 5, mean.data(), m2.data());
  CHECK(mean == std::vector<double>{0.0, 0.0});
  CHECK(m2 == std::vector<double>{0.0, 0.0});
  float grad_weight[2] = {1, 1}, grad_bias[2] = {1, 1};
  bn::backward<float>(nullptr, nullptr, 0, 2, 5, nullptr, mean.data(), m2.data(), true, nullptr, grad_weight,
                      grad_bias);
  CHECK(grad_weight[0] == 0.0f);
  CHECK(grad_bias[1] == 0.0f);
  bn::forward_eval<float>(nullptr, nullptr, 0, 2, 5, nullptr, nullptr, nullptr, nullptr, 1e-5);
}
