// Tests for include/hnn/nn/batch_norm.hpp, nn/functional/batch_norm.hpp and ops/batch_norm.hpp: the
// PyTorch fixture matrix of tools/references/batch_norm.py in float and double (the replay of
// tests/support/batch_norm_replay.hpp, which tests/cuda runs on the device), gradchecks, errors.
#include <catch2/catch.hpp>
#include <hnn/hnn.hpp>
#include <sstream>

#include "batch_norm_replay.hpp"
#include "reference.hpp"

namespace nn = hnn::nn;
using hnn::test::expect_close;

namespace {

const hnn::test::References& refs() { return hnn::test::batch_norm_references(); }

}  // namespace

TEMPLATE_TEST_CASE("BatchNorm matches PyTorch on the full option matrix", "[batchnorm][reference]", float,
                   double) {
  auto names = refs().names();
  REQUIRE(names.size() >= 96);
  for (const auto& name : names) {
    SECTION(name) { hnn::test::replay_batch_norm_fixture<TestType, hnn::CPU>(name); }
  }
}

TEST_CASE("BatchNorm walkthrough on arange(9).reshape(3, 3)", "[batchnorm]") {
  // torch: bn = nn.BatchNorm1d(3); bn(torch.arange(9.).reshape(3, 3))
  auto x = hnn::arange<float>(9).reshape({3, 3});
  nn::BatchNorm1d bn(3);
  auto y = bn(x).to_vector();
  const float s = 1.2247356f;  // 3 / sqrt(6 + 1e-5)
  std::vector<float> expected{-s, -s, -s, 0, 0, 0, s, s, s};
  for (size_t i = 0; i < 9; ++i) CHECK(y[i] == Approx(expected[i]).margin(1e-5));
  // running_mean = 0.9 * 0 + 0.1 * [3, 4, 5]; running_var = 0.9 * 1 + 0.1 * 9 (unbiased)
  auto rm = bn.running_mean().to_vector(), rv = bn.running_var().to_vector();
  CHECK(rm[0] == Approx(0.3f));
  CHECK(rm[1] == Approx(0.4f));
  CHECK(rm[2] == Approx(0.5f));
  for (float v : rv) CHECK(v == Approx(1.8f));
  CHECK(bn.num_batches_tracked() == 1);

  nn::BatchNorm1d fresh(3);
  fresh.eval();  // eval before any training: running stats are (0, 1), so y = x / sqrt(1 + eps)
  auto ye = fresh(x).to_vector();
  for (size_t i = 0; i < 9; ++i) CHECK(ye[i] == Approx(static_cast<float>(i) / std::sqrt(1.0f + 1e-5f)));
  CHECK(fresh.num_batches_tracked() == 0);
}

TEST_CASE("BatchNorm repr, options and state_dict keys", "[batchnorm]") {
  std::ostringstream a, b, c;
  a << nn::BatchNorm1d(3);
  CHECK(a.str() == "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  b << nn::BatchNorm2d<double>(nn::BatchNormOptions(16).momentum(std::nullopt).eps(1e-3).affine(false));
  CHECK(b.str() == "BatchNorm2d(16, eps=0.001, momentum=None, affine=False, track_running_stats=True)");
  c << nn::BatchNorm3d(nn::BatchNormOptions(2).track_running_stats(false));
  CHECK(c.str() == "BatchNorm3d(2, eps=1e-05, momentum=0.1, affine=True, track_running_stats=False)");

  nn::BatchNorm2d bn(4);
  auto sd = bn.state_dict();
  CHECK(sd.keys() ==
        std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"});
  CHECK(sd.at("num_batches_tracked").dtype() == hnn::Dtype::Int64);
  CHECK(sd.at("running_var").dtype() == hnn::Dtype::Float32);
  nn::BatchNorm2d untracked(nn::BatchNormOptions(4).track_running_stats(false).affine(false));
  CHECK(untracked.state_dict().size() == 0);
  CHECK(untracked.num_batches_tracked() == 0);
}

TEST_CASE("BatchNorm state round trip, clone and reset", "[batchnorm]") {
  hnn::Generator gen(5);
  nn::BatchNorm1d<double> bn(4);
  for (int i = 0; i < 3; ++i) bn(hnn::randn<double>({8, 4}, gen));
  nn::BatchNorm1d<double> other(4);
  other.load_state_dict(bn.state_dict());
  CHECK(other.num_batches_tracked() == 3);
  CHECK(other.running_var().to_vector() == bn.running_var().to_vector());
  auto copy = bn.clone();
  bn(hnn::randn<double>({8, 4}, gen));
  CHECK(dynamic_cast<nn::BatchNorm1d<double>&>(*copy).num_batches_tracked() == 3);
  CHECK(other.running_mean().to_vector() != bn.running_mean().to_vector());
  bn.reset_running_stats();
  CHECK(bn.num_batches_tracked() == 0);
  CHECK(bn.running_mean().to_vector() == std::vector<double>(4, 0.0));
  CHECK(bn.running_var().to_vector() == std::vector<double>(4, 1.0));
}

TEST_CASE("batch_norm op gradcheck in double", "[batchnorm][gradcheck]") {
  hnn::Generator gen(11);
  for (bool training : {true, false}) {
    for (bool affine : {true, false}) {
      for (auto shape : {hnn::Shape{5, 3}, hnn::Shape{3, 2, 4}, hnn::Shape{2, 3, 2, 3}}) {
        INFO("training=" << training << " affine=" << affine << " shape=" << shape);
        const int64_t C = shape[1];
        auto x = hnn::randn<double>(shape, gen).requires_grad_(true);
        auto w = (hnn::rand<double>({C}, gen) + 0.5).requires_grad_(true);
        auto b = hnn::randn<double>({C}, gen).requires_grad_(true);
        auto rm = hnn::randn<double>({C}, gen);
        auto rv = hnn::rand<double>({C}, gen) + 0.5;
        auto r = hnn::randn<double>(shape, gen);
        std::vector<hnn::Tensor<double>> inputs{x};
        if (affine) {
          inputs.push_back(w);
          inputs.push_back(b);
        }
        auto fn = [&](const std::vector<hnn::Tensor<double>>& in) {
          // Running stats are passed only in eval, so training does not move them between evaluations.
          auto y = nn::functional::batch_norm(in[0], training ? hnn::Tensor<double>() : rm,
                                              training ? hnn::Tensor<double>() : rv,
                                              affine ? in[1] : hnn::Tensor<double>(),
                                              affine ? in[2] : hnn::Tensor<double>(), training, 0.1, 1e-5);
          return y * r;
        };
        CHECK(hnn::autograd::gradcheck<hnn::CPU>(fn, inputs));
      }
    }
  }
}

TEST_CASE("functional batch_norm updates given running stats in place", "[batchnorm]") {
  auto x = hnn::arange<double>(12).reshape({4, 3});
  auto rm = hnn::zeros<double>({3});
  auto rv = hnn::ones<double>({3});
  nn::functional::batch_norm(x, rm, rv, {}, {}, /*training=*/true, /*momentum=*/0.5, 1e-5);
  // batch mean = [4.5, 5.5, 6.5], unbiased var = 15
  CHECK(rm.to_vector() == std::vector<double>{2.25, 2.75, 3.25});
  CHECK(rv.to_vector() == std::vector<double>{8.0, 8.0, 8.0});
  auto y = nn::functional::batch_norm(x, rm, rv);  // eval by default: uses the running stats
  CHECK(y.to_vector()[0] == Approx((0 - 2.25) / std::sqrt(8.0 + 1e-5)));
}

TEST_CASE("BatchNorm errors carry PyTorch's messages", "[batchnorm][errors]") {
  nn::BatchNorm1d bn(3);
  REQUIRE_THROWS_AS(bn(hnn::ones<float>({1, 3})), std::invalid_argument);
  REQUIRE_THROWS_WITH(
      bn(hnn::ones<float>({1, 3})),
      Catch::StartsWith("Expected more than 1 value per channel when training, got input size "
                        "torch.Size([1, 3])"));
  CHECK(bn.num_batches_tracked() == 0);  // a rejected batch leaves the buffers alone
  REQUIRE_THROWS_WITH(bn(hnn::ones<float>({4, 5})),
                      Catch::StartsWith("running_mean should contain 5 elements not 3"));
  REQUIRE_THROWS_AS(bn(hnn::ones<float>({4, 5})), std::invalid_argument);
  REQUIRE_THROWS_WITH(bn(hnn::ones<float>({4, 3, 2, 2})),
                      Catch::Contains("expected 2D or 3D input (got 4D input)"));
  nn::BatchNorm2d bn2(3);
  REQUIRE_THROWS_WITH(bn2(hnn::ones<float>({4, 3, 2})), Catch::Contains("expected 4D input (got 3D input)"));
  nn::BatchNorm3d bn3(3);
  REQUIRE_THROWS_WITH(bn3(hnn::ones<float>({4, 3, 2, 2})),
                      Catch::Contains("expected 5D input (got 4D input)"));
  nn::BatchNorm1d untracked(nn::BatchNormOptions(3).track_running_stats(false));
  REQUIRE_THROWS_WITH(untracked(hnn::ones<float>({4, 5})),
                      Catch::StartsWith("weight should contain 5 elements not 3"));
  // One value per channel is fine in eval mode.
  bn.eval();
  CHECK(bn(hnn::ones<float>({1, 3})).numel() == 3);
  REQUIRE_THROWS_WITH(
      nn::functional::batch_norm(hnn::ones<float>({2, 3}), hnn::Tensor<float>(), hnn::Tensor<float>()),
      Catch::Contains("running_mean must be defined in evaluation mode"));
}

TEST_CASE("BatchNorm in eval without tracked stats uses batch statistics", "[batchnorm]") {
  nn::BatchNorm1d bn(nn::BatchNormOptions(2).track_running_stats(false).affine(false));
  bn.eval();
  auto y = bn(hnn::tensor<float>({1, 10, 3, 30}, {2, 2})).to_vector();
  CHECK(y[0] == Approx(-1.0f).margin(1e-4));
  CHECK(y[3] == Approx(1.0f).margin(1e-4));
}

TEST_CASE("BatchNorm momentum can change after construction", "[batchnorm]") {
  nn::BatchNorm1d<double> bn(1);
  bn.mutable_options().momentum(1.0);
  bn(hnn::tensor<double>({1, 3}, {2, 1}));
  CHECK(bn.running_mean().item() == 2.0);
  CHECK(bn.running_var().item() == 2.0);  // unbiased: ((1-2)^2 + (3-2)^2) / 1
}

TEMPLATE_TEST_CASE("batch_norm on a channels-last input keeps its layout and the values of the NCHW path",
                   "[batchnorm][channels_last]", float, double) {
  // PyTorch's memory_format=torch.channels_last (and channels_last_3d; and the same permutation of a 3-D
  // input): the memory is the contiguous (N, spatial..., C) tensor seen as (N, C, spatial...). It is
  // normalised where it lies, as (N*spatial, C) rows, and the output is laid out the same way.
  using T = TestType;
  namespace F = nn::functional;
  hnn::Generator gen(17);
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  for (const hnn::Shape& shape :
       {hnn::Shape{4, 3, 5, 6}, hnn::Shape{2, 4, 3, 2, 5}, hnn::Shape{6, 5, 7}, hnn::Shape{3, 20, 9, 9}}) {
    const auto dims = static_cast<int64_t>(shape.size());
    const int64_t C = shape[1];
    hnn::Shape memory{shape[0]}, to_nchw{0, dims - 1};
    for (int64_t k = 2; k < dims; ++k) {
      memory.push_back(shape[static_cast<size_t>(k)]);
      to_nchw.push_back(k - 1);
    }
    memory.push_back(C);
    for (bool training : {true, false}) {
      INFO("shape " << shape << " training " << training);
      auto x = (hnn::randn<T>(memory, gen) * T(2) + T(1e3)).permute(to_nchw).detach().requires_grad_(true);
      REQUIRE(x.shape() == shape);
      REQUIRE(!x.is_contiguous());
      REQUIRE(x.stride(1) == 1);
      auto x_ref = x.detach().contiguous().requires_grad_(true);
      auto w = (hnn::rand<T>({C}, gen) + T(0.5)).requires_grad_(true);
      auto b = hnn::randn<T>({C}, gen).requires_grad_(true);
      auto w_ref = w.detach().clone().requires_grad_(true), b_ref = b.detach().clone().requires_grad_(true);
      auto rm = hnn::randn<T>({C}, gen) + T(1e3), rv = hnn::rand<T>({C}, gen) + T(0.5);
      auto rm_ref = rm.clone(), rv_ref = rv.clone();

      auto y = F::batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5);
      auto y_ref = F::batch_norm(x_ref, rm_ref, rv_ref, w_ref, b_ref, training, 0.1, 1e-5);
      CHECK(y.strides() == x.strides());
      CHECK(y_ref.is_contiguous());
      expect_close(y, y_ref, tol, tol, "y");
      expect_close(rm, rm_ref, tol, tol, "running_mean");
      expect_close(rv, rv_ref, tol, tol, "running_var");

      auto r = hnn::randn<T>(shape, gen);
      (y * r).sum().backward();
      (y_ref * r).sum().backward();
      expect_close(x.grad(), x_ref.grad(), tol, tol, "grad input");
      expect_close(w.grad(), w_ref.grad(), tol, tol * 100, "grad weight");
      expect_close(b.grad(), b_ref.grad(), tol, tol * 100, "grad bias");
    }
  }
  // A module takes the same path; an input permuted some other way is copied to NCHW first.
  nn::BatchNorm2d<T> bn(3);
  auto x = hnn::randn<T>({2, 4, 5, 3}, gen);
  auto y = bn(x.permute({0, 3, 1, 2}));
  CHECK(y.stride(1) == 1);
  nn::BatchNorm2d<T> bn_ref(3);
  expect_close(y, bn_ref(x.permute({0, 3, 1, 2}).contiguous()), tol, tol, "module");
  auto other = hnn::randn<T>({2, 3, 5, 4}, gen).transpose(2, 3);
  CHECK(bn(other).is_contiguous());
  expect_close(bn(other), bn_ref(other.contiguous()), tol, tol, "transposed H and W");
}
