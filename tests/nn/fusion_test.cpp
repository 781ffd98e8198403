// Tests of include/hnn/nn/utils/fusion.hpp: fuse_linear_bn_eval, fuse_conv_bn_eval and fold_batch_norm
// give the same outputs as the eval-mode model (double: 1e-12 relative; float: 1e-5), fold every batch
// norm of LeNet-BN and of the seed MLP (BN after ReLU folds into the next Linear), leave the model
// untouched, and refuse what cannot be folded.
#include "hnn/nn/utils/fusion.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <type_traits>

#include "hnn/nn/activation.hpp"
#include "hnn/nn/batch_norm.hpp"
#include "hnn/nn/conv.hpp"
#include "hnn/nn/dropout.hpp"
#include "hnn/nn/flatten.hpp"
#include "hnn/nn/linear.hpp"
#include "hnn/nn/pooling.hpp"
#include "hnn/nn/sequential.hpp"
#include "reference.hpp"

namespace nn = hnn::nn;

namespace {

// A few training steps move the running statistics and (through a fake update) gamma/beta away from
// their initial values, so the fold has something to fold.
template <class T, class M>
void warm_up(M& model, const hnn::Shape& input_shape, hnn::Generator& gen) {
  model.train();
  hnn::NoGradGuard guard;
  for (int step = 0; step < 3; ++step) model(hnn::randn<T>(input_shape, gen) * T(2) + T(0.5));
  for (auto& [name, p] : model.named_parameters())
    if (name.find("weight") != std::string::npos || name.find("bias") != std::string::npos)
      p.copy_(p + hnn::randn<T>(p.shape(), gen) * T(0.1));
}

template <class T>
nn::Sequential<T> lenet_bn() {
  return nn::Sequential<T>{nn::Conv2d<T>(nn::Conv2dOptions(1, 6, 5)),
                           nn::BatchNorm2d<T>(6),
                           nn::Sigmoid<T>(),
                           nn::AvgPool2d<T>(2, 2),
                           nn::Conv2d<T>(nn::Conv2dOptions(6, 16, 5).bias(false)),
                           nn::BatchNorm2d<T>(16),
                           nn::Sigmoid<T>(),
                           nn::AvgPool2d<T>(2, 2),
                           nn::Flatten<T>(),
                           nn::Linear<T>(256, 120),
                           nn::BatchNorm1d<T>(120),
                           nn::Sigmoid<T>(),
                           nn::Linear<T>(120, 84),
                           nn::BatchNorm1d<T>(84),
                           nn::Sigmoid<T>(),
                           nn::Linear<T>(84, 10)};
}

template <class T>
size_t count_batch_norms(const nn::Sequential<T>& model) {
  size_t n = 0;
  for (size_t i = 0; i < model.size(); ++i) {
    const std::string name = model[i].name();
    n += name.rfind("BatchNorm", 0) == 0;
  }
  return n;
}

}  // namespace

TEST_CASE("fold_batch_norm folds every batch norm of LeNet-BN and matches the eval-mode model") {
  hnn::manual_seed(1);
  hnn::Generator gen(2);
  auto model = lenet_bn<double>();
  warm_up<double>(model, {8, 1, 28, 28}, gen);
  const auto before = model.state_dict();
  model.train();

  auto folded = nn::utils::fold_batch_norm(model);
  CHECK(model.is_training());  // untouched, mode included
  CHECK(count_batch_norms(folded) == 0);
  CHECK(folded.size() == model.size() - 4);
  CHECK_FALSE(folded.is_training());
  const auto after = model.state_dict();
  for (const auto& [key, value] : before) CHECK(value.to_vector() == after.at(key).to_vector());

  model.eval();
  auto x = hnn::randn<double>({5, 1, 28, 28}, gen);
  hnn::test::expect_close(folded(x), model(x), 1e-12, -1, "LeNet-BN folded");
}

TEMPLATE_TEST_CASE(
    "fold_batch_norm folds a batch norm after a ReLU into the next Linear, across Dropout (the seed MLP)", "",
    float, double) {
  using T = TestType;
  hnn::manual_seed(3);
  hnn::Generator gen(4);
  nn::Sequential<T> mlp{nn::Flatten<T>(),       nn::Linear<T>(20, 16), nn::ReLU<T>(),
                        nn::BatchNorm1d<T>(16), nn::Dropout<T>(0.25),  nn::Linear<T>(16, 10)};
  warm_up<T>(mlp, {32, 4, 5}, gen);
  auto folded = nn::utils::fold_batch_norm(mlp);
  CHECK(count_batch_norms(folded) == 0);
  CHECK(folded.size() == 5);  // the Dropout stays (identity in eval mode)
  mlp.eval();
  auto x = hnn::randn<T>({7, 4, 5}, gen);
  hnn::test::expect_close(folded(x), mlp(x), std::is_same_v<T, double> ? 1e-12 : 1e-5, -1, "MLP folded");
}

TEST_CASE("fold_batch_norm on LeNet-BN in float matches within 1e-5") {
  hnn::manual_seed(9);
  hnn::Generator gen(10);
  auto model = lenet_bn<float>();
  warm_up<float>(model, {8, 1, 28, 28}, gen);
  auto folded = nn::utils::fold_batch_norm(model);
  CHECK(count_batch_norms(folded) == 0);
  model.eval();
  auto x = hnn::randn<float>({4, 1, 28, 28}, gen);
  hnn::test::expect_close(folded(x), model(x), 1e-5, -1, "LeNet-BN folded (float)");
}

TEST_CASE("fold_batch_norm on a model without foldable pairs returns an equal copy") {
  hnn::manual_seed(11);
  hnn::Generator gen(12);
  nn::Sequential<double> net{nn::Linear<double>(6, 5), nn::Tanh<double>(), nn::Linear<double>(5, 3)};
  auto folded = nn::utils::fold_batch_norm(net);
  REQUIRE(folded.size() == net.size());
  const auto a = net.state_dict(), b = folded.state_dict();
  REQUIRE(a.size() == b.size());
  for (const auto& [key, value] : a) CHECK(value.to_vector() == b.at(key).to_vector());
  // A copy, not shared storage: changing the original leaves the folded model alone.
  {
    hnn::NoGradGuard guard;
    net.parameters()[0].fill_(0.0);
  }
  CHECK(folded.parameters()[0].to_vector() != net.parameters()[0].to_vector());
  auto x = hnn::randn<double>({2, 6}, gen);
  CHECK(folded(x).dim() == 2);
}

TEST_CASE("fold_batch_norm folds BatchNorm2d across a Flatten into the next Linear") {
  hnn::manual_seed(5);
  hnn::Generator gen(6);
  nn::Sequential<double> net{nn::Conv2d<double>(nn::Conv2dOptions(2, 3, 3).padding(1)), nn::ReLU<double>(),
                             nn::BatchNorm2d<double>(3), nn::Flatten<double>(),
                             nn::Linear<double>(3 * 4 * 4, 5)};
  warm_up<double>(net, {16, 2, 4, 4}, gen);
  auto folded = nn::utils::fold_batch_norm(net);
  CHECK(count_batch_norms(folded) == 0);
  net.eval();
  auto x = hnn::randn<double>({3, 2, 4, 4}, gen);
  hnn::test::expect_close(folded(x), net(x), 1e-12, -1, "BN2d-Flatten-Linear folded");
}

TEST_CASE("fuse_linear_bn_eval and fuse_conv_bn_eval equal bn(layer(x)) in eval mode, float and double") {
  hnn::manual_seed(7);
  hnn::Generator gen(8);
  SECTION("Linear + BatchNorm1d, float, no affine") {
    nn::Sequential<float> pair{nn::Linear<float>(6, 4, /*bias=*/false),
                               nn::BatchNorm1d<float>(nn::BatchNormOptions(4).affine(false))};
    warm_up<float>(pair, {10, 6}, gen);
    pair.eval();
    auto fused =
        nn::utils::fuse_linear_bn_eval(pair.get<nn::Linear<float>>(0), pair.get<nn::BatchNorm1d<float>>(1));
    CHECK(fused.bias().defined());
    auto x = hnn::randn<float>({9, 6}, gen);
    hnn::test::expect_close(fused(x), pair(x), 1e-5, -1, "Linear+BN1d");
  }
  SECTION("Conv2d + BatchNorm2d, double, stride and padding") {
    nn::Sequential<double> pair{nn::Conv2d<double>(nn::Conv2dOptions(3, 5, 3).stride(2).padding(1)),
                                nn::BatchNorm2d<double>(5)};
    warm_up<double>(pair, {6, 3, 9, 9}, gen);
    pair.eval();
    auto fused =
        nn::utils::fuse_conv_bn_eval(pair.get<nn::Conv2d<double>>(0), pair.get<nn::BatchNorm2d<double>>(1));
    CHECK(fused.options().stride().h() == 2);
    auto x = hnn::randn<double>({2, 3, 9, 9}, gen);
    hnn::test::expect_close(fused(x), pair(x), 1e-12, -1, "Conv2d+BN2d");
  }
}

TEST_CASE("folding refuses what has no fixed affine map or does not fit") {
  nn::Linear<float> linear(4, 3);
  nn::BatchNorm1d<float> untracked(nn::BatchNormOptions(3).track_running_stats(false));
  CHECK_THROWS_WITH(nn::utils::fuse_linear_bn_eval(linear, untracked),
                    Catch::Contains("track_running_stats=False"));
  nn::BatchNorm1d<float> wrong(5);
  CHECK_THROWS_WITH(nn::utils::fuse_linear_bn_eval(linear, wrong),
                    Catch::Contains("3 outputs") && Catch::Contains("5 features"));
  // A lone batch norm (no Linear/Conv2d neighbour) stays, in eval mode.
  nn::Sequential<float> lone{nn::BatchNorm1d<float>(3), nn::ReLU<float>()};
  auto folded = nn::utils::fold_batch_norm(lone);
  CHECK(count_batch_norms(folded) == 1);
  CHECK_FALSE(folded[0].is_training());
}
