// Tests for include/hnn/nn/conv.hpp, ops/conv.hpp and kernels/cpu/conv.hpp: forward and input, weight and
// bias gradients against the PyTorch fixtures of tools/references/layers.py (stride 2, padding, non-square
// kernels, no bias, 1x1, unbatched) in float and double, gradcheck, default initialisation, errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <hnn/nn/conv.hpp>
#include <sstream>
#include <type_traits>

#include "reference.hpp"

namespace nn = hnn::nn;
using hnn::test::expect_close;

namespace {

const hnn::test::References& refs() {
  static hnn::test::References r("layers.json");
  return r;
}

nn::IntPair pair_of(const hnn::test::ReferenceCase& c, const std::string& key) {
  auto v = c.param<std::vector<int64_t>>(key);
  return nn::IntPair({v[0], v[1]});
}

template <class T>
void replay_conv(const hnn::test::ReferenceCase& c) {
  INFO("case " << c.name() << ": " << c.call());
  const double rtol = hnn::test::default_rtol<T>();
  const bool has_bias = c.param<bool>("bias");
  nn::Conv2d<T> m(nn::Conv2dOptions(c.param<int64_t>("in_channels"), c.param<int64_t>("out_channels"),
                                    pair_of(c, "kernel"))
                      .stride(pair_of(c, "stride"))
                      .padding(pair_of(c, "padding"))
                      .bias(has_bias));
  std::ostringstream repr;
  repr << m;
  CHECK(repr.str() == c.param<std::string>("repr"));
  {
    hnn::NoGradGuard guard;
    m.weight().copy_(c.tensor<T>("weight"));
    if (has_bias) m.bias().copy_(c.tensor<T>("bias"));
  }
  auto x = c.tensor<T>("x").requires_grad_(true);
  auto y = m(x);
  expect_close(y, c.tensor<double>("y"), rtol, -1, "output");
  (y * c.tensor<T>("r")).sum().backward();
  expect_close(x.grad(), c.tensor<double>("dx"), rtol, -1, "grad of input");
  expect_close(m.weight().grad(), c.tensor<double>("dweight"), rtol, -1, "grad of weight");
  if (has_bias) expect_close(m.bias().grad(), c.tensor<double>("dbias"), rtol, -1, "grad of bias");
}

}  // namespace

TEST_CASE("Conv2d matches PyTorch's forward and gradients", "[conv][reference]") {
  auto names = refs().names("conv_");
  REQUIRE(names.size() == 8);
  for (const auto& name : names) {
    SECTION(name + " float") { replay_conv<float>(refs().get(name)); }
    SECTION(name + " double") { replay_conv<double>(refs().get(name)); }
  }
}

TEST_CASE("Conv2d gradients are skipped for inputs that need none", "[conv]") {
  auto c = refs().get("conv_stride2_pad1");
  nn::Conv2d<double> m(nn::Conv2dOptions(3, 5, 3).stride(2).padding(1));
  {
    hnn::NoGradGuard guard;
    m.weight().copy_(c.tensor<double>("weight"));
    m.bias().copy_(c.tensor<double>("bias"));
  }
  auto x = c.tensor<double>("x");  // the first layer's input: no gradient wanted
  auto y = m(x);
  (y * c.tensor<double>("r")).sum().backward();
  CHECK_FALSE(x.grad().defined());
  expect_close(m.weight().grad(), c.tensor<double>("dweight"), 1e-10, -1, "grad of weight");
  expect_close(m.bias().grad(), c.tensor<double>("dbias"), 1e-10, -1, "grad of bias");
}

TEST_CASE("Conv2d gradcheck in double", "[conv][gradcheck]") {
  hnn::Generator gen(5);
  struct Config {
    std::array<int64_t, 2> stride, padding;
    hnn::Shape x, w;
    bool bias;
  };
  const Config configs[] = {
      {{1, 1}, {0, 0}, {2, 2, 5, 4}, {3, 2, 3, 3}, true},
      {{2, 2}, {1, 1}, {1, 2, 5, 6}, {2, 2, 3, 3}, true},
      {{2, 1}, {1, 0}, {2, 1, 5, 5}, {2, 1, 2, 3}, false},
      {{1, 1}, {0, 0}, {2, 3, 2, 2}, {2, 3, 1, 1}, true},
  };
  for (const auto& cfg : configs) {
    auto fn = [&cfg](const std::vector<hnn::Tensor<double>>& in) {
      return hnn::conv2d(in[0], in[1], cfg.bias ? in[2] : hnn::Tensor<double>(), cfg.stride, cfg.padding);
    };
    std::vector<hnn::Tensor<double>> inputs{hnn::randn<double>(cfg.x, gen).requires_grad_(true),
                                            hnn::randn<double>(cfg.w, gen).requires_grad_(true),
                                            hnn::randn<double>({cfg.w[0]}, gen).requires_grad_(cfg.bias)};
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(fn, inputs));
  }
}

TEST_CASE("Conv2d options, CTAD, parameters and repr", "[conv]") {
  nn::Conv2d conv(nn::Conv2dOptions(1, 6, 5));
  static_assert(std::is_same_v<decltype(conv), nn::Conv2d<float, hnn::CPU>>);
  CHECK(conv.weight().shape() == hnn::Shape{6, 1, 5, 5});
  CHECK(conv.bias().shape() == hnn::Shape{6});
  std::ostringstream repr;
  repr << conv;
  CHECK(repr.str() == "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))");

  nn::Conv2d<double> odd(nn::Conv2dOptions(3, 8, {3, 5}).stride({2, 1}).padding(1).bias(false));
  CHECK(odd.weight().shape() == hnn::Shape{8, 3, 3, 5});
  CHECK_FALSE(odd.bias().defined());
  auto named = odd.named_parameters();
  REQUIRE(named.size() == 1);
  CHECK(named[0].first == "weight");
  std::ostringstream odd_repr;
  odd_repr << odd;
  CHECK(odd_repr.str() == "Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 1), padding=(1, 1), bias=False)");
  CHECK(odd(hnn::zeros<double>({2, 3, 9, 9})).shape() == hnn::Shape{2, 8, 5, 7});
}

TEST_CASE("Conv2d's default initialisation is PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in))", "[conv][init]") {
  hnn::manual_seed(3);
  nn::Conv2d<double> conv(nn::Conv2dOptions(16, 32, 3));
  const double bound = 1.0 / std::sqrt(16.0 * 9.0);
  auto w = conv.weight().to_vector();
  double lo = 1e9, hi = -1e9, sum_sq = 0;
  for (double v : w) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum_sq += v * v;
  }
  CHECK(lo >= -bound);
  CHECK(hi <= bound);
  CHECK(hi - lo > 1.9 * bound);
  CHECK(sum_sq / static_cast<double>(w.size()) == Approx(bound * bound / 3).epsilon(0.05));
  for (double v : conv.bias().to_vector()) CHECK(std::abs(v) <= bound);
}

TEST_CASE("Conv2d rejects bad inputs naming module, expected and actual", "[conv][errors]") {
  nn::Conv2d conv(nn::Conv2dOptions(1, 6, 5));
  SECTION("input smaller than the kernel") {
    CHECK_THROWS_MATCHES(
        conv(hnn::zeros<float>({2, 1, 4, 4})), std::invalid_argument,
        Catch::Message("Conv2d: input of shape [2, 1, 4, 4] is smaller than the kernel (5, 5) "
                       "(padded input size per channel (4 x 4))"));
    CHECK_THROWS_WITH(hnn::conv2d(hnn::zeros<float>({2, 1, 4, 4}), conv.weight()),
                      Catch::Contains("Kernel size can't be greater than actual input size"));
  }
  SECTION("wrong channel count") {
    CHECK_THROWS_MATCHES(
        conv(hnn::zeros<float>({2, 3, 28, 28})), std::invalid_argument,
        Catch::Message("Conv2d: expected input with 1 channels (dimension 1), got shape [2, 3, 28, 28]"));
    CHECK_THROWS_WITH(hnn::conv2d(hnn::zeros<float>({2, 3, 28, 28}), conv.weight()),
                      Catch::Contains("to have 1 channels, but got 3 channels instead"));
  }
  SECTION("wrong rank") { CHECK_THROWS_AS(conv(hnn::zeros<float>({28, 28})), std::invalid_argument); }
  SECTION("bad options") {
    CHECK_THROWS_AS(nn::Conv2d(nn::Conv2dOptions(1, 6, 0)), std::invalid_argument);
    CHECK_THROWS_AS(nn::Conv2d(nn::Conv2dOptions(1, 6, 3).stride(0)), std::invalid_argument);
  }
}

TEST_CASE("A large batch (parallel chunks, several images per GEMM) equals image-by-image convolution",
          "[conv]") {
  hnn::Generator gen(17);
  const std::array<int64_t, 2> stride{1, 1}, padding{1, 1};
  auto x = hnn::randn<double>({24, 3, 14, 14}, gen).requires_grad_(true);
  auto w = hnn::randn<double>({8, 3, 3, 3}, gen).requires_grad_(true);
  auto b = hnn::randn<double>({8}, gen).requires_grad_(true);
  auto r = hnn::randn<double>({24, 8, 14, 14}, gen);
  auto y = hnn::conv2d(x, w, b, stride, padding);
  (y * r).sum().backward();
  auto dx = x.grad().to_vector();
  std::vector<double> dw_sum(static_cast<size_t>(w.numel()), 0.0), db_sum(8, 0.0);
  for (int64_t n = 0; n < 24; ++n) {
    INFO("image " << n);
    auto xn = x.detach()[n].clone().requires_grad_(true);
    auto wn = w.detach().clone().requires_grad_(true);
    auto bn = b.detach().clone().requires_grad_(true);
    auto yn = hnn::conv2d(xn, wn, bn, stride, padding);  // unbatched (C, H, W): one image, one chunk
    expect_close(yn, y.detach()[n].clone(), 1e-12, -1, "output of one image");
    (yn * r[n]).sum().backward();
    expect_close(xn.grad(), x.grad()[n].clone(), 1e-12, -1, "input gradient of one image");
    auto dwn = wn.grad().to_vector(), dbn = bn.grad().to_vector();
    for (size_t i = 0; i < dw_sum.size(); ++i) dw_sum[i] += dwn[i];
    for (size_t i = 0; i < db_sum.size(); ++i) db_sum[i] += dbn[i];
  }
  expect_close(w.grad(), hnn::tensor<double>(dw_sum, w.shape()), 1e-10, -1, "weight gradient");
  expect_close(b.grad(), hnn::tensor<double>(db_sum, {8}), 1e-10, -1, "bias gradient");
}

namespace {

/// conv2d, its loss sum(y * r) and the three gradients by the definition, in double, on float inputs.
struct NaiveConv {
  std::vector<double> y, dx, dw, db;
};

NaiveConv naive_conv(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b,
                     const std::vector<float>& r, int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                     int64_t KH, int64_t KW, int64_t PH, int64_t PW) {
  const int64_t OH = H + 2 * PH - KH + 1, OW = W + 2 * PW - KW + 1;
  NaiveConv out{std::vector<double>(static_cast<size_t>(N * O * OH * OW)), std::vector<double>(x.size(), 0.0),
                std::vector<double>(w.size(), 0.0), std::vector<double>(b.size(), 0.0)};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const size_t yi = static_cast<size_t>(((n * O + o) * OH + oh) * OW + ow);
          double sum = b[static_cast<size_t>(o)];
          const double g = r[yi];
          out.db[static_cast<size_t>(o)] += g;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t h = oh - PH + i, v = ow - PW + j;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                const size_t xi = static_cast<size_t>(((n * C + c) * H + h) * W + v);
                const size_t wi = static_cast<size_t>(((o * C + c) * KH + i) * KW + j);
                sum += double(w[wi]) * x[xi];
                out.dw[wi] += g * x[xi];
                out.dx[xi] += g * w[wi];
              }
          out.y[yi] = sum;
        }
  return out;
}

}  // namespace

TEST_CASE("Stride-1 convolutions (direct kernels) match the definition on wide rows and odd sizes",
          "[conv]") {
  // Rows of 53, 37 and 30 outputs cover every register tile of the direct kernels on any SIMD width (several
  // whole packets, single packets, half packets and a scalar tail); 11 output channels cover a block of 8
  // plus a remainder; padding goes through the padded scratch copy.
  hnn::Generator gen(23);
  struct Config {
    int64_t N, C, H, W, O, KH, KW, PH, PW;
  };
  const Config configs[] = {
      {3, 2, 9, 55, 11, 3, 3, 0, 0}, {2, 3, 7, 36, 5, 3, 4, 1, 2}, {2, 1, 6, 30, 6, 5, 5, 2, 2}};
  for (const auto& cfg : configs) {
    INFO("input (" << cfg.N << ", " << cfg.C << ", " << cfg.H << ", " << cfg.W << "), " << cfg.O
                   << " outputs, kernel " << cfg.KH << "x" << cfg.KW << ", padding " << cfg.PH << "x"
                   << cfg.PW);
    auto x = hnn::randn<float>({cfg.N, cfg.C, cfg.H, cfg.W}, gen).requires_grad_(true);
    auto w = hnn::randn<float>({cfg.O, cfg.C, cfg.KH, cfg.KW}, gen).requires_grad_(true);
    auto b = hnn::randn<float>({cfg.O}, gen).requires_grad_(true);
    auto y = hnn::conv2d(x, w, b, {1, 1}, {cfg.PH, cfg.PW});
    auto r = hnn::randn<float>(y.shape(), gen);
    (y * r).sum().backward();
    const auto ref =
        naive_conv(x.detach().to_vector(), w.detach().to_vector(), b.detach().to_vector(), r.to_vector(),
                   cfg.N, cfg.C, cfg.H, cfg.W, cfg.O, cfg.KH, cfg.KW, cfg.PH, cfg.PW);
    expect_close(y.detach(), hnn::tensor<double>(ref.y, y.shape()), 1e-4, -1, "output");
    expect_close(x.grad(), hnn::tensor<double>(ref.dx, x.shape()), 1e-4, -1, "grad of input");
    expect_close(w.grad(), hnn::tensor<double>(ref.dw, w.shape()), 1e-4, -1, "grad of weight");
    expect_close(b.grad(), hnn::tensor<double>(ref.db, b.shape()), 1e-4, -1, "grad of bias");
  }
}
