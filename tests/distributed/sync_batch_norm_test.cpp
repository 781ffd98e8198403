// SyncBatchNorm under mpirun: rank r holds a batch of {5, 3, 4}[r % 3] samples; every rank also builds
// the concatenated batch of all ranks and runs BatchNorm on it in-process. Over 3 training steps and 1
// eval step, for (N, C) and (N, C, H, W) inputs, float and double, momentum 0.1 and None, affine on
// and off: outputs, running statistics, num_batches_tracked and the rank's grad of x equal BatchNorm's
// (the rank's slice), and weight/bias grads summed over ranks equal BatchNorm's. Also: repr,
// state-dict keys, convert_sync_batchnorm, eval = BatchNorm, bad input.
#include <catch2/catch.hpp>
#include <hnn/distributed/process_group.hpp>
#include <hnn/nn/activation.hpp>
#include <hnn/nn/batch_norm.hpp>
#include <hnn/nn/linear.hpp>
#include <hnn/nn/sequential.hpp>
#include <hnn/nn/sync_batch_norm.hpp>
#include <hnn/tensor.hpp>
#include <optional>

#include "distributed_support.hpp"

using namespace hnn;

namespace {

int64_t batch_of(int rank) { return std::vector<int64_t>{5, 3, 4}[static_cast<size_t>(rank % 3)]; }

template <class T, class Reference>
void compare_with_batch_norm(const Shape& sample_shape, std::optional<double> momentum, bool affine) {
  const int rank = distributed::get_rank(), world = distributed::get_world_size();
  const double rtol = std::is_same_v<T, double> ? 1e-10 : 1e-5;
  const int64_t C = sample_shape[0];
  const int64_t per_sample = sample_shape.numel();
  int64_t first = 0, total = 0;  // this rank's first sample in the concatenated batch, and its size
  for (int r = 0; r < world; ++r) {
    if (r < rank) first += batch_of(r);
    total += batch_of(r);
  }
  auto batch_shape = [&](int64_t n) {
    std::vector<int64_t> dims{n};
    for (size_t d = 0; d < sample_shape.size(); ++d) dims.push_back(sample_shape[d]);
    return Shape(dims);
  };
  const auto options = nn::BatchNormOptions(C).momentum(momentum).affine(affine);
  nn::SyncBatchNorm<T> sync(options);
  Reference reference(options);
  if (affine) {  // non-trivial affine parameters, the same on every rank
    NoGradGuard guard;
    auto w = test::seeded_values<T>(11, static_cast<size_t>(C), 1.0, 0.3);
    auto b = test::seeded_values<T>(12, static_cast<size_t>(C), 0.0, 0.5);
    sync.weight().copy_(tensor<T>(w, Shape{C}));
    sync.bias().copy_(tensor<T>(b, Shape{C}));
    reference.weight().copy_(tensor<T>(w, Shape{C}));
    reference.bias().copy_(tensor<T>(b, Shape{C}));
  }
  for (int step = 0; step < 4; ++step) {
    const bool training = step < 3;
    sync.train(training);
    reference.train(training);
    // Every rank's batch: mean 5 and spread 2, so a sum-of-squares variance would show.
    std::vector<T> all, all_grad;
    for (int r = 0; r < world; ++r) {
      const auto n = static_cast<size_t>(batch_of(r) * per_sample);
      auto x = test::seeded_values<T>(1000 * step + r, n, 5.0, 2.0);
      auto g = test::seeded_values<T>(5000 + 1000 * step + r, n);
      all.insert(all.end(), x.begin(), x.end());
      all_grad.insert(all_grad.end(), g.begin(), g.end());
    }
    const auto begin = static_cast<size_t>(first * per_sample);
    const auto end = begin + static_cast<size_t>(batch_of(rank) * per_sample);
    Tensor<T> x_all = tensor<T>(all, batch_shape(total));
    Tensor<T> g_all = tensor<T>(all_grad, batch_shape(total));
    Tensor<T> x = tensor<T>(std::vector<T>(all.begin() + static_cast<std::ptrdiff_t>(begin),
                                           all.begin() + static_cast<std::ptrdiff_t>(end)),
                            batch_shape(batch_of(rank)));
    Tensor<T> g = tensor<T>(std::vector<T>(all_grad.begin() + static_cast<std::ptrdiff_t>(begin),
                                           all_grad.begin() + static_cast<std::ptrdiff_t>(end)),
                            batch_shape(batch_of(rank)));
    x.requires_grad_(true);
    x_all.requires_grad_(true);
    sync.zero_grad();
    reference.zero_grad();

    Tensor<T> y = sync(x);
    Tensor<T> y_all = reference(x_all);
    (y * g).sum().backward();
    (y_all * g_all).sum().backward();

    INFO("step " << step << ", sample shape " << sample_shape << ", momentum "
                 << (momentum ? std::to_string(*momentum) : "None") << ", affine " << affine);
    HNN_CHECK_CLOSE(y, y_all.narrow(0, first, batch_of(rank)), rtol, "output");
    HNN_CHECK_CLOSE(x.grad(), x_all.grad().narrow(0, first, batch_of(rank)), rtol, "grad of x");
    HNN_CHECK_CLOSE(sync.running_mean(), reference.running_mean(), rtol, "running_mean");
    HNN_CHECK_CLOSE(sync.running_var(), reference.running_var(), rtol, "running_var");
    CHECK(sync.num_batches_tracked() == reference.num_batches_tracked());
    CHECK(sync.num_batches_tracked() == std::min(step + 1, 3));
    if (affine) {
      // Local parts: their sum over ranks is batch norm's gradient.
      Tensor<T> gw = sync.weight().grad().clone(), gb = sync.bias().grad().clone();
      distributed::all_reduce(gw, distributed::ReduceOp::SUM);
      distributed::all_reduce(gb, distributed::ReduceOp::SUM);
      HNN_CHECK_CLOSE(gw, reference.weight().grad(), rtol, "weight grad summed over ranks");
      HNN_CHECK_CLOSE(gb, reference.bias().grad(), rtol, "bias grad summed over ranks");
    }
  }
}

}  // namespace

TEMPLATE_TEST_CASE("SyncBatchNorm equals BatchNorm on the concatenated batch",
                   "[distributed][sync_batchnorm]", float, double) {
  test::ensure_mpi();
  for (std::optional<double> momentum : {std::optional<double>(0.1), std::optional<double>()})
    for (bool affine : {true, false}) {
      compare_with_batch_norm<TestType, nn::BatchNorm1d<TestType>>(Shape{4}, momentum, affine);
      compare_with_batch_norm<TestType, nn::BatchNorm2d<TestType>>(Shape{3, 2, 3}, momentum, affine);
    }
}

TEST_CASE("SyncBatchNorm statistics are stable for a large mean in float", "[distributed][sync_batchnorm]") {
  test::ensure_mpi();
  const int rank = distributed::get_rank(), world = distributed::get_world_size();
  // Values 1e4 + N(0, 1): a sum of squares in float would lose the variance entirely.
  nn::SyncBatchNorm<float> sync(2);
  std::vector<float> mine;
  std::vector<double> all;
  for (int r = 0; r < world; ++r) {
    auto v = test::seeded_values<float>(77 + r, 2 * 64, 1e4, 1.0);
    all.insert(all.end(), v.begin(), v.end());
    if (r == rank) mine = v;
  }
  sync(tensor<float>(mine, Shape{64, 2}));
  // The running variance after one step: 0.9 + 0.1 * unbiased variance of each channel, in double.
  for (int64_t c = 0; c < 2; ++c) {
    double mean = 0, m2 = 0;
    const auto n = static_cast<double>(all.size() / 2);
    for (size_t i = static_cast<size_t>(c); i < all.size(); i += 2) mean += all[i];
    mean /= n;
    for (size_t i = static_cast<size_t>(c); i < all.size(); i += 2) m2 += (all[i] - mean) * (all[i] - mean);
    CHECK(sync.running_var().to_vector()[static_cast<size_t>(c)] ==
          Approx(0.9 + 0.1 * m2 / (n - 1)).epsilon(1e-5));
    CHECK(sync.running_mean().to_vector()[static_cast<size_t>(c)] == Approx(0.1 * mean).epsilon(1e-6));
  }
}

TEST_CASE("SyncBatchNorm repr, state dict and eval mode", "[distributed][sync_batchnorm]") {
  test::ensure_mpi();
  nn::SyncBatchNorm bn(16);
  CHECK(bn.repr() == "SyncBatchNorm(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  nn::SyncBatchNorm<double> none(nn::BatchNormOptions(4).momentum(std::nullopt).affine(false));
  CHECK(none.repr() == "SyncBatchNorm(4, eps=1e-05, momentum=None, affine=False, track_running_stats=True)");
  std::vector<std::string> keys,
      expected{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};
  for (const auto& [key, value] : bn.state_dict()) keys.push_back(key);
  CHECK(keys == expected);

  // Eval mode is BatchNorm with the running statistics: no communication, so each rank may differ.
  nn::SyncBatchNorm<double> sync(3);
  nn::BatchNorm1d<double> plain(3);
  {
    NoGradGuard guard;
    auto rm = tensor<double>({0.5, -1.0, 2.0}, Shape{3}), rv = tensor<double>({1.5, 0.25, 4.0}, Shape{3});
    sync.running_mean().copy_(rm);
    sync.running_var().copy_(rv);
    plain.running_mean().copy_(rm);
    plain.running_var().copy_(rv);
  }
  sync.eval();
  plain.eval();
  auto x = tensor<double>(test::seeded_values<double>(distributed::get_rank() + 3, 15), Shape{5, 3});
  HNN_CHECK_CLOSE(sync(x), plain(x), 1e-12, "eval output");
  CHECK(sync.num_batches_tracked() == 0);
}

TEST_CASE("SyncBatchNorm rejects bad input on every rank", "[distributed][sync_batchnorm]") {
  test::ensure_mpi();
  nn::SyncBatchNorm bn(3);
  try {
    bn(zeros<float>({4}));
    FAIL("a 1-D input must throw");
  } catch (const std::invalid_argument& e) {
    CHECK_THAT(e.what(), Catch::Contains("SyncBatchNorm") && Catch::Contains("2D") && Catch::Contains("1D"));
  }
  CHECK_THROWS_AS(bn(zeros<float>({4, 5})), std::invalid_argument);
  if (distributed::get_world_size() > 1) {
    // One value per channel over all ranks only when every rank but rank 0 holds an empty batch.
    const int64_t n = distributed::get_rank() == 0 ? 1 : 0;
    try {
      bn(zeros<float>({n, 3}));
      FAIL("one value per channel over all ranks must throw");
    } catch (const std::invalid_argument& e) {
      CHECK_THAT(e.what(), Catch::Contains("more than 1 value per channel"));
    }
  }
}

TEST_CASE("convert_sync_batchnorm swaps every BatchNorm in place, keeping tensors and options",
          "[distributed][sync_batchnorm]") {
  test::ensure_mpi();
  nn::Sequential inner{nn::Linear(6, 4), nn::BatchNorm1d(nn::BatchNormOptions(4).momentum(0.3).eps(1e-3))};
  nn::Sequential model{nn::Linear(5, 6), nn::BatchNorm1d(6), nn::ReLU(), std::move(inner)};
  model.eval();
  const auto before = model.named_parameters();
  auto* bn = &model.get<nn::BatchNorm1d<float>>(1);
  const Tensor<float> running_mean = bn->running_mean();
  const std::string before_state = [&] {
    std::vector<std::string> k;
    for (const auto& [key, v] : model.state_dict()) k.push_back(key);
    return Catch::Detail::stringify(k);
  }();

  nn::convert_sync_batchnorm(model);
  CHECK(model[1].name() == "SyncBatchNorm");
  auto& converted_inner = model.get<nn::Sequential<float>>(3);
  CHECK(converted_inner[1].repr() ==
        "SyncBatchNorm(4, eps=0.001, momentum=0.3, affine=True, track_running_stats=True)");
  CHECK_FALSE(model[1].is_training());
  const auto after = model.named_parameters();
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].first == before[i].first);
    CHECK(after[i].second.is_same(before[i].second));  // the same tensors: an optimiser keeps working
  }
  CHECK(model.get<nn::SyncBatchNorm<float>>(1).running_mean().data() == running_mean.data());
  std::vector<std::string> k;
  for (const auto& [key, v] : model.state_dict()) k.push_back(key);
  CHECK(Catch::Detail::stringify(k) == before_state);

  nn::BatchNorm2d lone(3);
  CHECK_THROWS_AS(nn::convert_sync_batchnorm(lone), std::invalid_argument);
}
