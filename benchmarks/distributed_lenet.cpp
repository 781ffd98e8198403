// Data-parallel LeNet-BN throughput over MPI: samples/s of SGD-momentum training on a fixed global batch
// split over the ranks (SyncBatchNorm + DistributedDataParallel when more than one rank), the share of
// the step spent in the gradient all-reduce, and the numbers the scaling model in benchmarks/README.md
// needs (step time, gradient bytes). Standalone (not a Google Benchmark suite); build and run:
//   mpicxx -std=c++20 -O3 -march=native -fopenmp -DHNN_WITH_OPENMP -DHNN_WITH_MPI -I include
//          -isystem /usr/include/eigen3 benchmarks/distributed_lenet.cpp -o /tmp/distributed_lenet
//   OMP_NUM_THREADS=1 /tmp/distributed_lenet                                 # 1 rank x 1 thread
//   OMP_NUM_THREADS=2 /tmp/distributed_lenet                                 # 1 rank x 2 threads
//   OMP_NUM_THREADS=1 mpirun -x OMP_NUM_THREADS -np 2 /tmp/distributed_lenet  # 2 ranks x 1 thread
// (mpirun binds each rank to one core: a 2-thread rank started by mpirun needs --bind-to none, or its
// threads share a core and run ~6x slower.)
// Options: --steps N (timed steps, default 60), --batch B (global batch, default 128), --local-bn 1 (keep
// per-rank BatchNorm instead of SyncBatchNorm, to separate SyncBatchNorm's collectives from DDP's).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <hnn/distributed.hpp>
#include <hnn/nn/activation.hpp>
#include <hnn/nn/batch_norm.hpp>
#include <hnn/nn/conv.hpp>
#include <hnn/nn/flatten.hpp>
#include <hnn/nn/linear.hpp>
#include <hnn/nn/loss.hpp>
#include <hnn/nn/pooling.hpp>
#include <hnn/nn/sequential.hpp>
#include <hnn/optim/sgd.hpp>
#include <memory>
#include <vector>

using namespace hnn;

int main(int argc, char** argv) {
  distributed::init_process_group();
  return distributed::run_or_abort([&] {
    int steps = 60;
    int64_t global_batch = 128;
    bool local_bn = false;
    for (int i = 1; i + 1 < argc; i += 2) {
      if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
      if (!std::strcmp(argv[i], "--batch")) global_batch = std::atoll(argv[i + 1]);
      if (!std::strcmp(argv[i], "--local-bn")) local_bn = std::atoi(argv[i + 1]) != 0;
    }
    const int rank = distributed::get_rank(), world = distributed::get_world_size();
    const int64_t batch = global_batch / world;
    manual_seed(0);
    nn::Sequential<float> model{nn::Conv2d(nn::Conv2dOptions(1, 6, 5)),
                                nn::BatchNorm2d(6),
                                nn::Sigmoid(),
                                nn::AvgPool2d(2, 2),
                                nn::Conv2d(nn::Conv2dOptions(6, 16, 5)),
                                nn::BatchNorm2d(16),
                                nn::Sigmoid(),
                                nn::AvgPool2d(2, 2),
                                nn::Flatten(),
                                nn::Linear(256, 120),
                                nn::BatchNorm1d(120),
                                nn::Sigmoid(),
                                nn::Linear(120, 84),
                                nn::BatchNorm1d(84),
                                nn::Sigmoid(),
                                nn::Linear(84, 10)};
    std::unique_ptr<nn::parallel::DistributedDataParallel<float>> ddp;
    if (world > 1) {
      if (!local_bn) nn::convert_sync_batchnorm(model);
      ddp = std::make_unique<nn::parallel::DistributedDataParallel<float>>(model);
    }
    optim::SGD opt(model.parameters(), optim::SGDOptions(0.05).momentum(0.9));
    nn::CrossEntropyLoss loss_fn;
    Generator gen(1 + static_cast<uint64_t>(rank));
    const auto x = randn<float>({batch, 1, 28, 28}, gen);
    const auto y = randint<int64_t>(0, 10, {batch}, gen);
    int64_t grad_elems = 0;
    for (const auto& p : model.parameters()) grad_elems += p.numel();

    double exposed_wait = 0, start = 0;
    for (int s = -5; s < steps; ++s) {  // 5 warm-up steps
      if (s == 0) {
        distributed::barrier();
        start = MPI_Wtime();
      }
      opt.zero_grad();
      auto out = ddp ? (*ddp)(x) : model(x);
      loss_fn(out, y).backward();
      opt.step();
      if (s >= 0 && ddp) exposed_wait += ddp->last_allreduce_wait_seconds();
    }
    distributed::barrier();
    const double step_time = (MPI_Wtime() - start) / steps;

    // A blocking all-reduce of the gradient bytes alone: the communication a step cannot avoid.
    auto flat = zeros<float>({grad_elems});
    const int reps = 50;
    distributed::barrier();
    const double t0 = MPI_Wtime();
    for (int i = 0; i < reps; ++i) distributed::all_reduce(flat, distributed::ReduceOp::SUM);
    const double allreduce_time = world > 1 ? (MPI_Wtime() - t0) / reps : 0.0;

    if (rank == 0)
      std::printf(
          "ranks %d x threads %d%s: global batch %lld, %.2f ms/step, %.0f samples/s; gradients %lld floats "
          "(%.1f kB); all-reduce of them %.3f ms (%.1f%% of the step); DDP's wait after backward %.3f "
          "ms/step\n",
          world, hnn::get_num_threads(), world > 1 && local_bn ? " (per-rank BatchNorm)" : "",
          static_cast<long long>(batch * world), 1e3 * step_time,
          static_cast<double>(batch * world) / step_time, static_cast<long long>(grad_elems),
          static_cast<double>(grad_elems) * 4 / 1e3, 1e3 * allreduce_time, 100 * allreduce_time / step_time,
          1e3 * exposed_wait / steps);
    distributed::destroy_process_group();
    return 0;
  });
}
