// Tests for include/hnn/nn/init.hpp: calculate_gain and the fans as torch.nn.init computes them, and the
// statistics of every initialiser over a large tensor (bounds, mean, standard deviation), in place,
// without recording gradients, reproducible through the generator.
#include <catch2/catch.hpp>
#include <cmath>
#include <hnn/nn/init.hpp>

namespace init = hnn::nn::init;

namespace {

struct Stats {
  double min = INFINITY, max = -INFINITY, mean = 0, std = 0;
};

template <class T>
Stats stats_of(const hnn::Tensor<T>& t) {
  Stats s;
  auto v = t.to_vector();
  double sum = 0, sum_sq = 0;
  for (T x : v) {
    s.min = std::min<double>(s.min, x);
    s.max = std::max<double>(s.max, x);
    sum += x;
  }
  s.mean = sum / static_cast<double>(v.size());
  for (T x : v) sum_sq += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(sum_sq / static_cast<double>(v.size()));
  return s;
}

/// U(-bound, bound): all values inside, both ends nearly reached, mean ~0, std = bound / sqrt(3).
template <class T>
void check_uniform(const hnn::Tensor<T>& t, double bound) {
  auto s = stats_of(t);
  const double n = static_cast<double>(t.numel());
  CHECK(s.min >= -bound);
  CHECK(s.max <= bound);
  CHECK(s.min < -0.99 * bound);
  CHECK(s.max > 0.99 * bound);
  CHECK(std::abs(s.mean) < 5 * bound / std::sqrt(3 * n));
  CHECK(s.std == Approx(bound / std::sqrt(3.0)).epsilon(0.01));
}

/// N(0, std^2): mean ~0 and the standard deviation within 1 %.
template <class T>
void check_normal(const hnn::Tensor<T>& t, double std) {
  auto s = stats_of(t);
  CHECK(std::abs(s.mean) < 5 * std / std::sqrt(static_cast<double>(t.numel())));
  CHECK(s.std == Approx(std).epsilon(0.01));
}

}  // namespace

TEST_CASE("calculate_gain matches torch.nn.init.calculate_gain", "[init]") {
  CHECK(init::calculate_gain("linear") == 1.0);
  CHECK(init::calculate_gain("conv2d") == 1.0);
  CHECK(init::calculate_gain("sigmoid") == 1.0);
  CHECK(init::calculate_gain("tanh") == Approx(5.0 / 3.0));
  CHECK(init::calculate_gain("relu") == Approx(std::sqrt(2.0)));
  CHECK(init::calculate_gain("leaky_relu") == Approx(std::sqrt(2.0 / (1 + 0.01 * 0.01))));
  CHECK(init::calculate_gain("leaky_relu", std::sqrt(5.0)) == Approx(std::sqrt(1.0 / 3.0)));
  CHECK(init::calculate_gain("selu") == 0.75);
  CHECK_THROWS_AS(init::calculate_gain("swish"), std::invalid_argument);
}

TEST_CASE("fans are computed as torch.nn.init does", "[init]") {
  auto linear_weight = hnn::zeros<float>({300, 200});
  CHECK(init::calculate_fan_in_and_fan_out(linear_weight) == std::pair<int64_t, int64_t>{200, 300});
  auto conv_weight = hnn::zeros<float>({16, 6, 5, 3});
  CHECK(init::calculate_fan_in_and_fan_out(conv_weight) == std::pair<int64_t, int64_t>{90, 240});
  CHECK(init::calculate_correct_fan(conv_weight, "fan_out") == 240);
  CHECK_THROWS_WITH(init::calculate_fan_in_and_fan_out(hnn::zeros<float>({5})),
                    Catch::Contains("fewer than 2 dimensions"));
  CHECK_THROWS_WITH(init::kaiming_uniform_(conv_weight, 0.0, "fan_avg"),
                    Catch::Contains("Mode fan_avg not supported"));
}

TEST_CASE("uniform_, normal_, constant_, zeros_, ones_", "[init]") {
  hnn::Generator gen(1);
  auto t = hnn::empty<double>({400, 500});
  init::uniform_(t, -2.0, 3.0, gen);
  auto s = stats_of(t);
  CHECK(s.min >= -2.0);
  CHECK(s.max < 3.0);
  CHECK(s.mean == Approx(0.5).margin(0.01));
  CHECK(s.std == Approx(5.0 / std::sqrt(12.0)).epsilon(0.01));

  init::normal_(t, 1.5, 0.2, gen);
  s = stats_of(t);
  CHECK(s.mean == Approx(1.5).margin(0.002));
  CHECK(s.std == Approx(0.2).epsilon(0.01));

  auto f = hnn::empty<float>({3, 4});
  init::constant_(f, 0.25);
  CHECK(f.to_vector() == std::vector<float>(12, 0.25f));
  init::ones_(f);
  CHECK(f.to_vector() == std::vector<float>(12, 1.0f));
  init::zeros_(f);
  CHECK(f.to_vector() == std::vector<float>(12, 0.0f));
}

TEST_CASE("xavier_uniform_ and xavier_normal_ use gain * sqrt(2 / (fan_in + fan_out))", "[init]") {
  hnn::Generator gen(2);
  auto w = hnn::empty<float>({256, 784});  // fan_in 784, fan_out 256
  const double std = std::sqrt(2.0 / (784 + 256));
  init::xavier_uniform_(w, 1.0, gen);
  check_uniform(w, std::sqrt(3.0) * std);
  init::xavier_uniform_(w, 2.0, gen);
  check_uniform(w, 2 * std::sqrt(3.0) * std);
  init::xavier_normal_(w, 1.0, gen);
  check_normal(w, std);
  auto conv = hnn::empty<double>({64, 32, 3, 3});  // fan_in 288, fan_out 576
  init::xavier_normal_(conv, init::calculate_gain("tanh"), gen);
  check_normal(conv, 5.0 / 3.0 * std::sqrt(2.0 / (288 + 576)));
}

TEST_CASE("kaiming_uniform_ and kaiming_normal_ use gain / sqrt(fan)", "[init]") {
  hnn::Generator gen(3);
  auto w = hnn::empty<double>({300, 600});  // fan_in 600, fan_out 300
  init::kaiming_uniform_(w, 0.0, "fan_in", "relu", gen);
  check_uniform(w, std::sqrt(3.0) * std::sqrt(2.0) / std::sqrt(600.0));
  init::kaiming_uniform_(w, std::sqrt(5.0), "fan_in", "leaky_relu", gen);  // Linear's default: 1/sqrt(fan_in)
  check_uniform(w, 1.0 / std::sqrt(600.0));
  init::kaiming_normal_(w, 0.0, "fan_out", "relu", gen);
  check_normal(w, std::sqrt(2.0) / std::sqrt(300.0));
  init::kaiming_normal_(w, 0.2, "fan_in", "leaky_relu", gen);
  check_normal(w, std::sqrt(2.0 / 1.04) / std::sqrt(600.0));
  auto conv = hnn::empty<float>({64, 16, 5, 5});  // fan_in 400
  init::kaiming_uniform_(conv, std::sqrt(5.0), "fan_in", "leaky_relu", gen);
  check_uniform(conv, 1.0 / std::sqrt(400.0));
}

TEST_CASE("initialisers write in place, record no gradient and follow the generator", "[init]") {
  auto p = hnn::zeros<float>({40, 30}).requires_grad_(true);
  const float* storage = p.data();
  init::kaiming_uniform_(p);
  CHECK(p.data() == storage);
  CHECK(p.is_leaf());
  CHECK_FALSE(p.grad().defined());
  hnn::Generator a(5), b(5);
  auto x = hnn::empty<float>({10, 10}), y = hnn::empty<float>({10, 10});
  init::normal_(x, 0.0, 1.0, a);
  init::normal_(y, 0.0, 1.0, b);
  CHECK(x.to_vector() == y.to_vector());
  hnn::manual_seed(8);
  init::xavier_uniform_(x);
  hnn::manual_seed(8);
  init::xavier_uniform_(y);
  CHECK(x.to_vector() == y.to_vector());
  // A non-contiguous view is filled through its own strides.
  auto base = hnn::zeros<double>({4, 6});
  init::ones_(base.transpose(0, 1));
  CHECK(base.to_vector() == std::vector<double>(24, 1.0));
}
