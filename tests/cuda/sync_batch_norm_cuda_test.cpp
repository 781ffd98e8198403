// SyncBatchNorm on CUDA tensors (include/hnn/distributed/sync_batch_norm.hpp through BatchNormKernels<CUDA>):
// in a one-rank process group, distributed::sync_batch_norm on the device agrees with the same op on the
// CPU (output, running statistics, grads of x, weight and bias) for (N, C), (N, C, L) and (N, C, H, W)
// inputs in float and double, and nn::SyncBatchNorm<float, CUDA> counts its batches on the host.
// main() returns 77 (ctest: skipped) without a GPU, or when the build has no MPI (HNN_WITH_MPI off, as in
// scripts/cuda_build.sh): SyncBatchNorm needs a process group.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstring>
#include <hnn/autograd/backward.hpp>
#include <hnn/cuda.hpp>
#include <hnn/tensor.hpp>
#include <iostream>

#include "cuda_test_main.hpp"

#ifdef HNN_WITH_MPI
#include <hnn/distributed/process_group.hpp>
#include <hnn/distributed/sync_batch_norm.hpp>
#include <hnn/nn/sync_batch_norm.hpp>

#include "cuda_compare.hpp"
#include "reference.hpp"

namespace {

using hnn::CPU;
using hnn::CUDA;
using hnn::test::expect_close;

}  // namespace

TEMPLATE_TEST_CASE("sync_batch_norm on CUDA tensors agrees with the CPU", "[cuda][batchnorm][distributed]",
                   float, double) {
  // Rows (S = 1, the column kernels), short and long planes, vector loads (S % 4 == 0) and odd S.
  const std::vector<hnn::Shape> shapes = {{16, 5}, {512, 7}, {8, 4, 40}, {4, 6, 24, 24}, {3, 2, 7, 9}};
  uint64_t seed = 1;
  hnn::distributed::init_process_group();
  for (const auto& shape : shapes) {
    // two training steps: batch statistics over the (one-rank) group, running updates
    hnn::test::compare_cpu_cuda<TestType>(
        shape, 100.0, seed++, 2, [](auto& x, auto& mean, auto& var, auto& weight, auto& bias, int) {
          return hnn::distributed::sync_batch_norm(x, mean, var, weight, bias, 0.1, 1e-5);
        });
  }
}

TEST_CASE("SyncBatchNorm<float, CUDA> trains and counts batches on the host",
          "[cuda][batchnorm][distributed]") {
  hnn::distributed::init_process_group();
  hnn::nn::SyncBatchNorm<float, CUDA> bn(hnn::nn::BatchNormOptions(3).momentum(std::nullopt));
  hnn::Generator gen(7);
  for (int step = 0; step < 3; ++step) {
    auto x = hnn::randn<float>({6, 3, 4, 4}, gen).template to<CUDA>().requires_grad_(true);
    bn(x).sum().backward();
    REQUIRE(x.grad().defined());
  }
  CHECK(bn.num_batches_tracked() == 3);
  bn.reset_running_stats();
  CHECK(bn.num_batches_tracked() == 0);
}

#endif  // HNN_WITH_MPI

int main(int argc, char* argv[]) {
#ifdef HNN_WITH_MPI
  return hnn::test::run_cuda_tests(argc, argv);
#else
  return hnn::test::run_cuda_tests(
      argc, argv, "built without MPI (HNN_WITH_MPI off); SyncBatchNorm needs a process group");
#endif
}
