// Tests of batch norm's per-channel formulas (include/hnn/kernels/batch_norm_math.hpp), the ones every
// kernel set, the op, SyncBatchNorm and folding share: Chan's merge against a two-pass reference,
// invstd, the running update, the alpha/beta and pivot forms of the normalisation, the dx constants
// against the closed-form gradient.
#include "hnn/kernels/batch_norm_math.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace math = hnn::kernels::batch_norm_math;

namespace {

/// (count, mean, M2) of values[begin, end) by two passes in long double.
struct Summary {
  double count, mean, m2;
};

Summary two_pass(const std::vector<double>& values, size_t begin, size_t end) {
  long double sum = 0;
  for (size_t i = begin; i < end; ++i) sum += values[i];
  const long double mean = end > begin ? sum / static_cast<long double>(end - begin) : 0;
  long double m2 = 0;
  for (size_t i = begin; i < end; ++i) m2 += (values[i] - mean) * (values[i] - mean);
  return {static_cast<double>(end - begin), static_cast<double>(mean), static_cast<double>(m2)};
}

}  // namespace

TEST_CASE("chan_merge of two summaries equals the summary of the union", "[kernels][batch_norm_math]") {
  std::mt19937_64 gen(3);
  std::normal_distribution<double> normal(1000.0, 2.0);  // a large mean: E[x^2] - E[x]^2 would cancel
  std::vector<double> values(1000);
  for (auto& v : values) v = normal(gen);
  const Summary all = two_pass(values, 0, values.size());
  for (size_t cut : {size_t{0}, size_t{1}, size_t{137}, size_t{500}, size_t{999}, size_t{1000}}) {
    INFO("cut at " << cut);
    Summary a = two_pass(values, 0, cut);
    const Summary b = two_pass(values, cut, values.size());
    math::chan_merge(a.count, a.mean, a.m2, b.count, b.mean, b.m2);
    CHECK(a.count == all.count);
    CHECK(a.mean == Approx(all.mean).epsilon(1e-14));
    CHECK(a.m2 == Approx(all.m2).epsilon(1e-10));
  }
}

TEST_CASE("chan_merge_weighted with chan_weights is chan_merge", "[kernels][batch_norm_math]") {
  double count = 3, mean = 1.5, m2 = 2.0;
  double mean_w = mean, m2_w = m2;
  math::chan_merge_weighted(mean_w, m2_w, 4.0, 1.0, math::chan_weights(count, 5));
  math::chan_merge(count, mean, m2, 5, 4.0, 1.0);
  CHECK(count == 8);
  CHECK(mean_w == mean);
  CHECK(m2_w == m2);
  // mean = 1.5 + 2.5 * 5/8, M2 = 2 + 1 + 2.5^2 * 15/8
  CHECK(mean == Approx(1.5 + 2.5 * 5.0 / 8.0));
  CHECK(m2 == Approx(3.0 + 6.25 * 15.0 / 8.0));
}

TEST_CASE("invstd, unbiased variance and running update", "[kernels][batch_norm_math]") {
  CHECK(math::invstd_from_var(4.0 - 1e-5, 1e-5) == Approx(0.5));
  CHECK(math::invstd(8.0, 4.0, 2.0) == Approx(0.5));  // 1/sqrt(8/4 + 2)
  CHECK(math::unbiased_var(8.0, 5.0) == 2.0);
  // PyTorch: running = (1 - momentum) * running + momentum * batch
  CHECK(math::running_update(1.0, 3.0, 0.1) == Approx(1.2));
  CHECK(math::running_update(1.0, 3.0, 1.0) == 3.0);
}

TEST_CASE("the pivot form of the normalisation equals ATen's alpha/beta form", "[kernels][batch_norm_math]") {
  const double mean = 1000.123456789, invstd = 0.37, weight = 1.7, bias = -0.4;
  const auto ab = math::alpha_beta(mean, invstd, weight, bias);
  const auto k = math::affine<float>(mean, invstd, weight, bias);
  CHECK(ab.alpha == Approx(weight * invstd));
  for (double x : {998.0, 1000.0, 1000.5, 1003.25}) {
    const double exact = (x - mean) * invstd * weight + bias;
    CHECK(x * ab.alpha + ab.beta == Approx(exact).margin(1e-9));
    // In float the pivot form keeps the cancellation exact: error of the size of y's ulp, not mean's.
    const float y = (static_cast<float>(x) - k.pivot) * k.alpha + k.beta;
    CHECK(static_cast<double>(y) == Approx(exact).margin(1e-5));
  }
}

TEST_CASE("dx constants give the closed-form training gradient", "[kernels][batch_norm_math]") {
  // dx = weight * invstd * (dy - sum(dy)/m - (x - mean) * invstd^2 * sum(dy (x - mean))/m)
  const std::vector<double> x{1.0, 2.0, 4.0, 7.0}, dy{0.5, -1.0, 0.25, 2.0};
  const double m = 4, weight = 1.3, eps = 1e-5;
  const Summary s = two_pass(x, 0, x.size());
  const double invstd = math::invstd(s.m2, m, eps);
  double sum_dy = 0, sum_dy_xmu = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sum_dy += dy[i];
    sum_dy_xmu += dy[i] * (x[i] - s.mean);
  }
  const auto k = math::dx_constants<double>(s.mean, invstd, weight, sum_dy, sum_dy_xmu, m);
  for (size_t i = 0; i < x.size(); ++i) {
    const double expected =
        weight * invstd * (dy[i] - sum_dy / m - (x[i] - s.mean) * invstd * invstd * sum_dy_xmu / m);
    CHECK(k.k_dy * dy[i] + (k.k_x * (x[i] - k.pivot) + k.k_c) == Approx(expected).margin(1e-12));
  }
  CHECK(math::grad_weight(sum_dy_xmu, invstd) == Approx(sum_dy_xmu * invstd));
}
