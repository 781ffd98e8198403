// Tests of include/hnn/nn/utils/precise_bn.hpp: recalibrate_batch_norm replaces the exponential running
// averages by the plain average of per-batch statistics (PyTorch's momentum=None rule), restores each
// module's momentum and the model's mode, and stops after max_batches.
#include "hnn/nn/utils/precise_bn.hpp"

#include <catch2/catch.hpp>
#include <vector>

#include "hnn/nn/activation.hpp"
#include "hnn/nn/batch_norm.hpp"
#include "hnn/nn/linear.hpp"
#include "hnn/nn/sequential.hpp"
#include "reference.hpp"

namespace nn = hnn::nn;

namespace {
struct Batch {
  hnn::Tensor<double> data;
};
}  // namespace

TEST_CASE("recalibrate_batch_norm averages per-batch statistics with the final weights") {
  hnn::manual_seed(1);
  hnn::Generator gen(2);
  nn::Sequential<double> net{nn::Linear<double>(4, 3), nn::BatchNorm1d<double>(3), nn::Sigmoid<double>()};
  net.get<nn::BatchNorm1d<double>>(1).mutable_options().momentum(0.3);
  std::vector<Batch> loader;
  for (int i = 0; i < 5; ++i) loader.push_back({hnn::randn<double>({8, 4}, gen) * 2.0 + double(i)});
  {  // move the running statistics away from what recalibration will compute
    hnn::NoGradGuard guard;
    net.train();
    net(hnn::randn<double>({8, 4}, gen) * 10.0);
  }
  net.eval();

  const auto used = nn::utils::recalibrate_batch_norm(net, loader, /*max_batches=*/3);
  CHECK(used == 3);
  CHECK_FALSE(net.is_training());
  auto& bn = net.get<nn::BatchNorm1d<double>>(1);
  REQUIRE(bn.options().momentum().has_value());
  CHECK(*bn.options().momentum() == 0.3);
  CHECK(bn.num_batches_tracked() == 3);

  // Expected: mean over the 3 batches of each batch's mean and unbiased variance of Linear's output.
  auto& linear = net.get<nn::Linear<double>>(0);
  std::vector<double> mean(3, 0.0), var(3, 0.0);
  for (int i = 0; i < 3; ++i) {
    hnn::NoGradGuard guard;
    auto h = linear(loader[static_cast<size_t>(i)].data);
    auto m = h.mean({0}).to_vector(), v = h.var({0}, true, false).to_vector();
    for (int c = 0; c < 3; ++c) {
      mean[static_cast<size_t>(c)] += m[static_cast<size_t>(c)] / 3.0;
      var[static_cast<size_t>(c)] += v[static_cast<size_t>(c)] / 3.0;
    }
  }
  hnn::test::expect_close(bn.running_mean(), hnn::tensor<double>(mean, {3}), 1e-12, -1, "running_mean");
  hnn::test::expect_close(bn.running_var(), hnn::tensor<double>(var, {3}), 1e-12, -1, "running_var");
}

TEST_CASE("recalibrate_batch_norm leaves batch norms without running statistics alone") {
  nn::Sequential<float> net{nn::BatchNorm1d<float>(nn::BatchNormOptions(2).track_running_stats(false))};
  struct FloatBatch {
    hnn::Tensor<float> data;
  };
  std::vector<FloatBatch> loader{{hnn::ones<float>({4, 2})}};
  net.train();
  CHECK(nn::utils::recalibrate_batch_norm(net, loader, 10) == 1);
  CHECK(net.is_training());
  CHECK_FALSE(net.get<nn::BatchNorm1d<float>>(0).running_mean().defined());
}
