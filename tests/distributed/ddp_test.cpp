// DistributedDataParallel under mpirun: LeNet-BN trained 10 SGD-momentum steps on W ranks x 32 samples
// equals one process trained on the 32 W-sample batch (with SyncBatchNorm), and, with per-rank
// BatchNorm, one process averaging the per-rank losses (what PyTorch's DDP computes); rank 0's
// parameters win at construction; no_sync() accumulates locally; mismatched models fail on every rank.
#include <catch2/catch.hpp>
#include <hnn/distributed/process_group.hpp>
#include <hnn/nn/activation.hpp>
#include <hnn/nn/batch_norm.hpp>
#include <hnn/nn/conv.hpp>
#include <hnn/nn/flatten.hpp>
#include <hnn/nn/linear.hpp>
#include <hnn/nn/loss.hpp>
#include <hnn/nn/parallel/distributed.hpp>
#include <hnn/nn/pooling.hpp>
#include <hnn/nn/sequential.hpp>
#include <hnn/nn/sync_batch_norm.hpp>
#include <hnn/optim/sgd.hpp>
#include <hnn/tensor.hpp>

#include "../support/lenet_bn.hpp"
#include "distributed_support.hpp"

using namespace hnn;

namespace {

constexpr int64_t per_rank = 32;

/// Step s's global batch (the same on every rank): images (32 W, 1, 28, 28) and labels.
std::pair<Tensor<float>, Tensor<int64_t>> global_batch(int step, int world) {
  const int64_t n = per_rank * world;
  auto x = tensor<float>(
      test::seeded_values<float>(100 + static_cast<uint64_t>(step), static_cast<size_t>(n * 784), 0.5, 1.0),
      Shape{n, 1, 28, 28});
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = (i * 7 + step * 3) % 10;
  return {x, tensor<int64_t>(labels, Shape{n})};
}

/// Moves every parameter away from its value, so the broadcast of rank 0's parameters is visible.
void perturb(nn::Module<float>& m, float by) {
  NoGradGuard guard;
  for (auto& p : m.parameters()) p.copy_(p + full<float>(p.shape(), by));
}

void compare_models(nn::Module<float>& actual, nn::Module<float>& expected, double rtol,
                    const std::string& what) {
  const auto a = actual.named_parameters(), e = expected.named_parameters();
  REQUIRE(a.size() == e.size());
  for (size_t i = 0; i < a.size(); ++i)
    HNN_CHECK_CLOSE(a[i].second, e[i].second, rtol, what << " " << a[i].first);
}

}  // namespace

TEST_CASE("autograd core: post-accumulate-grad hooks and callbacks queued for the end of backward",
          "[distributed][ddp]") {
  // The two hooks DistributedDataParallel's reducer is built on (no MPI involved).
  Tensor<double> w = tensor<double>({1.0, 2.0}, Shape{2});
  w.requires_grad_(true);
  std::vector<std::string> events;
  const int id = w.register_post_accumulate_grad_hook([&] {
    events.push_back("hook grad=" + std::to_string(w.grad().to_vector()[1]));
    autograd::queue_callback([&] { events.push_back("callback"); });
  });
  (w * w + w * w).sum().backward();  // w is used twice: one accumulation, one hook call
  CHECK(events == std::vector<std::string>{"hook grad=8.000000", "callback"});
  (w * w).sum().backward();  // accumulates into the existing grad: 8 + 4
  CHECK(events.back() == "callback");
  CHECK(events[2] == "hook grad=12.000000");
  w.remove_post_accumulate_grad_hook(id);
  (w * w).sum().backward();
  CHECK(events.size() == 4);
  CHECK_THROWS_AS(autograd::queue_callback([] {}), std::runtime_error);  // only inside backward
  // A callback queued by a pass that fails is dropped, not run by the next pass.
  const int failing = w.register_post_accumulate_grad_hook([&] {
    autograd::queue_callback([&] { events.push_back("stale"); });
    throw std::runtime_error("hook failure");
  });
  CHECK_THROWS_AS((w * w).sum().backward(), std::runtime_error);
  w.remove_post_accumulate_grad_hook(failing);
  (w * w).sum().backward();
  CHECK(events.size() == 4);
}

TEST_CASE("DDP with SyncBatchNorm on W x 32 samples equals one process on the 32 W batch",
          "[distributed][ddp]") {
  test::ensure_mpi();
  const int rank = distributed::get_rank(), world = distributed::get_world_size();
  manual_seed(0);
  nn::Sequential<float> reference = hnn_test::lenet_bn();
  auto copy = reference.clone();
  nn::Module<float>& model = *copy;
  nn::convert_sync_batchnorm(model);
  if (rank != 0) perturb(model, 0.25f);
  // A small bucket cap: several buckets, launched while backward still runs.
  nn::parallel::DistributedDataParallel ddp(model, {.bucket_cap_mb = 0.05, .broadcast_buffers = true});
  CHECK(ddp.num_buckets() > 1);
  compare_models(model, reference, 0, "after construction (rank 0's parameters)");

  optim::SGD opt_ddp(model.parameters(), optim::SGDOptions(0.05).momentum(0.9));
  optim::SGD opt_ref(reference.parameters(), optim::SGDOptions(0.05).momentum(0.9));
  nn::CrossEntropyLoss loss_fn;
  for (int step = 0; step < 10; ++step) {
    auto [x, y] = global_batch(step, world);
    opt_ref.zero_grad();
    loss_fn(reference(x), y).backward();
    opt_ref.step();

    opt_ddp.zero_grad();
    auto out = ddp(x.narrow(0, rank * per_rank, per_rank).contiguous());
    loss_fn(out, y.narrow(0, rank * per_rank, per_rank).contiguous()).backward();
    opt_ddp.step();
  }
  compare_models(model, reference, 1e-5, "after 10 steps");
  const auto bufs = model.named_buffers(), ref_bufs = reference.named_buffers();
  REQUIRE(bufs.size() == ref_bufs.size());
  for (size_t i = 0; i < bufs.size(); ++i)
    HNN_CHECK_CLOSE(bufs[i].second.to<double>(), ref_bufs[i].second.to<double>(), 1e-5,
                    "buffer " << bufs[i].first);
}

TEST_CASE("DDP with per-rank BatchNorm averages the per-rank losses' gradients, as PyTorch's DDP",
          "[distributed][ddp]") {
  test::ensure_mpi();
  const int rank = distributed::get_rank(), world = distributed::get_world_size();
  manual_seed(1);
  nn::Sequential<float> reference = hnn_test::lenet_bn();
  auto copy = reference.clone();
  nn::Module<float>& model = *copy;
  nn::parallel::DistributedDataParallel ddp(model);
  CHECK(ddp.num_buckets() == 1);  // LeNet-BN's ~180 kB of gradients fit one 25 MB bucket

  optim::SGD opt_ddp(model.parameters(), optim::SGDOptions(0.05).momentum(0.9));
  optim::SGD opt_ref(reference.parameters(), optim::SGDOptions(0.05).momentum(0.9));
  nn::CrossEntropyLoss loss_fn;
  for (int step = 0; step < 10; ++step) {
    auto [x, y] = global_batch(step, world);
    // Each rank's slice normalised with its own statistics; the mean over ranks of the losses.
    opt_ref.zero_grad();
    Tensor<float> total;
    for (int r = 0; r < world; ++r) {
      auto l = loss_fn(reference(x.narrow(0, r * per_rank, per_rank).contiguous()),
                       y.narrow(0, r * per_rank, per_rank).contiguous());
      total = total.defined() ? total + l : l;
    }
    (total * full<float>(Shape{}, 1.0f / static_cast<float>(world))).backward();
    opt_ref.step();

    opt_ddp.zero_grad();
    loss_fn(ddp(x.narrow(0, rank * per_rank, per_rank).contiguous()),
            y.narrow(0, rank * per_rank, per_rank).contiguous())
        .backward();
    opt_ddp.step();
  }
  compare_models(model, reference, 1e-5, "after 10 steps");
}

TEST_CASE("DDP no_sync accumulates local gradients; the next backward averages the sum",
          "[distributed][ddp]") {
  test::ensure_mpi();
  const int rank = distributed::get_rank();
  manual_seed(2);
  nn::Sequential<double> model{nn::Linear<double>(6, 5), nn::ReLU<double>(), nn::Linear<double>(5, 3)};
  if (rank != 0) {
    NoGradGuard guard;
    for (auto& p : model.parameters()) p.copy_(p * full<double>(p.shape(), 3.0));
  }
  nn::parallel::DistributedDataParallel ddp(model,
                                            {.bucket_cap_mb = 1e-4});  // 13 doubles: one bucket per tensor
  CHECK(ddp.num_buckets() == 4);
  auto plain_ptr = model.clone();  // after the broadcast: the same parameters, no hooks
  auto& plain = *plain_ptr;
  auto batch = [&](int k) {
    return tensor<double>(test::seeded_values<double>(static_cast<uint64_t>(10 * rank + k), 4 * 6),
                          Shape{4, 6});
  };
  {
    auto guard = ddp.no_sync();
    ddp(batch(0)).sum().backward();
  }
  plain(batch(0)).sum().backward();
  const auto p_ddp = model.parameters(), p_plain = plain.parameters();
  for (size_t i = 0; i < p_ddp.size(); ++i)
    HNN_CHECK_CLOSE(p_ddp[i].grad(), p_plain[i].grad(), 1e-14, "local grad " << i);

  ddp(batch(1)).sum().backward();
  plain(batch(1)).sum().backward();
  for (size_t i = 0; i < p_ddp.size(); ++i) {
    Tensor<double> expected = p_plain[i].grad().clone();
    distributed::all_reduce(expected, distributed::ReduceOp::AVG);
    HNN_CHECK_CLOSE(p_ddp[i].grad(), expected, 1e-12, "averaged accumulated grad " << i);
  }
}

TEST_CASE("DDP refuses models that differ across ranks, naming the first mismatch", "[distributed][ddp]") {
  test::ensure_mpi();
  const int rank = distributed::get_rank(), world = distributed::get_world_size();
  if (world < 2) return;
  nn::Sequential<float> model{nn::Linear(4, 3), nn::Linear(3, rank == world - 1 ? 1 : 2)};
  try {
    nn::parallel::DistributedDataParallel ddp(model);
    FAIL("models with different shapes must be refused");
  } catch (const std::invalid_argument& e) {
    // Every rank reports the lowest mismatching rank's first difference.
    CHECK_THAT(e.what(), Catch::Contains("DistributedDataParallel") && Catch::Contains("'1.weight'") &&
                             Catch::Contains("rank " + std::to_string(world - 1)) &&
                             Catch::Contains("[1, 3]") && Catch::Contains("[2, 3]"));
  }
}
