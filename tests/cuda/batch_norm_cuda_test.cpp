// Tests for the CUDA backend (include/hnn/cuda.hpp, kernels/cuda/batch_norm.cuh): the PyTorch batch-norm
// fixtures replayed on the device, CPU-vs-CUDA agreement on random inputs of many shapes (outputs,
// running statistics, gradients), the host count of num_batches_tracked, the caching allocator and CUDA
// error messages (device tensor arithmetic, copies and sums: tests/cuda/op_families_cuda_test.cpp). main()
// returns 77 (ctest: skipped) without a GPU.
#define CATCH_CONFIG_RUNNER
#include <cuda_runtime_api.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <hnn/autograd/backward.hpp>
#include <hnn/cuda.hpp>
#include <hnn/nn/batch_norm.hpp>
#include <hnn/nn/functional/batch_norm.hpp>
#include <hnn/tensor.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "batch_norm_replay.hpp"
#include "cuda_compare.hpp"
#include "cuda_test_main.hpp"
#include "reference.hpp"

namespace nn = hnn::nn;
using hnn::CPU;
using hnn::CUDA;
using hnn::test::dev;
using hnn::test::expect_close;
using hnn::test::host;

namespace {}  // namespace

TEMPLATE_TEST_CASE("CUDA BatchNorm matches the PyTorch fixtures", "[cuda][batchnorm][reference]", float,
                   double) {
  auto names = hnn::test::batch_norm_references().names();
  REQUIRE(names.size() >= 96);
  for (const auto& name : names) {
    SECTION(name) { hnn::test::replay_batch_norm_fixture<TestType, CUDA>(name); }
  }
}

TEMPLATE_TEST_CASE("CUDA batch norm agrees with the CPU kernels on many shapes", "[cuda][batchnorm]", float,
                   double) {
  // (N,C), (N,C,L) with short and long L, (N,C,H,W) with S % 4 == 0 (vector loads) and odd S,
  // (N,C,D,H,W), small C (split over many blocks), large offsets (Welford precision).
  const std::vector<hnn::Shape> shapes = {{2, 3},          {16, 5},        {256, 1024},     {64, 3, 7},
                                          {8, 4, 40},      {4, 6, 24, 24}, {3, 2, 7, 9},    {2, 5, 3, 4, 5},
                                          {32, 1, 64, 64}, {1, 3, 33, 1},  {128, 16, 8, 8}, {512, 7}};
  uint64_t seed = 1;
  for (const auto& shape : shapes) {
    for (double offset : {0.0, 1000.0}) {
      // step 0 trains (batch statistics, running update), step 1 evaluates with the running statistics
      hnn::test::compare_cpu_cuda<TestType>(
          shape, offset, seed++, 2, [](auto& x, auto& mean, auto& var, auto& weight, auto& bias, int step) {
            return nn::functional::batch_norm(x, mean, var, weight, bias, step == 0, 0.1, 1e-5);
          });
    }
  }
}

TEMPLATE_TEST_CASE("CUDA batch_norm_chunks (ghost batch norm, batch of one) agrees with the CPU",
                   "[cuda][batchnorm]", float, double) {
  // Training chunks of 3 and 4 samples around one normalised with the running statistics (a batch of one
  // under BatchOfOne::use_running_stats), then an evaluation step.
  const std::vector<hnn::BatchNormChunk> chunks{{3, true, 0.1}, {1, false, 0.0}, {4, true, 0.1}};
  uint64_t seed = 100;
  for (const hnn::Shape& shape : {hnn::Shape{8, 5}, hnn::Shape{8, 3, 7}, hnn::Shape{8, 4, 6, 5}}) {
    hnn::test::compare_cpu_cuda<TestType>(
        shape, 3.0, seed++, 2, [&](auto& x, auto& mean, auto& var, auto& weight, auto& bias, int step) {
          return hnn::batch_norm_chunks(
              x, mean, var, weight, bias,
              step == 0 ? chunks : std::vector<hnn::BatchNormChunk>{{8, false, 0.0}}, 1e-5);
        });
  }
}

TEST_CASE("CUDA caching allocator reuses blocks across training steps", "[cuda][allocator]") {
  nn::BatchNorm2d<float, CUDA> bn(8);
  auto x = hnn::randn<float>({16, 8, 12, 12}).template to<CUDA>().requires_grad_(true);
  auto step = [&] {
    auto y = bn(x);
    y.sum().backward();
  };
  step();
  step();
  const size_t before = hnn::CudaCachingAllocator::instance().malloc_calls();
  for (int i = 0; i < 5; ++i) step();
  CHECK(hnn::CudaCachingAllocator::instance().malloc_calls() == before);
  CHECK(bn.num_batches_tracked() == 7);
}

TEST_CASE("CUDA BatchNorm's host count of num_batches_tracked follows every write to the buffer",
          "[cuda][batchnorm]") {
  // momentum = None: each step's factor 1/num_batches_tracked comes from the host's count (no read back),
  // so a stale count would show in the running statistics, compared with a CPU module fed the same batches.
  const auto options = nn::BatchNormOptions(2).momentum(std::nullopt);
  nn::BatchNorm1d<float, CUDA> bn(options);
  nn::BatchNorm1d<float, CPU> reference(options);
  hnn::Generator gen(5);
  auto step = [&] {
    auto x = hnn::randn<float>({8, 2}, gen);
    bn(dev(x));
    reference(x);
  };
  step();
  step();
  CHECK(bn.num_batches_tracked() == 2);
  // Loaded from a state dict: the next step counts from the loaded value.
  nn::BatchNorm1d<float, CPU> other(options);
  other(hnn::randn<float>({8, 2}, gen));
  for (int i = 0; i < 4; ++i) other(hnn::randn<float>({8, 2}, gen));
  hnn::nn::StateDict<CUDA> state;
  for (const auto& [name, value] : other.state_dict())
    state.insert(name, value.is<int64_t>() ? hnn::AnyTensor<CUDA>(value.as<int64_t>().to<CUDA>())
                                           : hnn::AnyTensor<CUDA>(value.as<float>().to<CUDA>()));
  bn.load_state_dict(state);
  reference.load_state_dict(other.state_dict());
  step();
  CHECK(bn.num_batches_tracked() == 6);
  expect_close(host(bn.running_mean()), reference.running_mean().template cast<double>(), 1e-5, -1,
               "running_mean after load_state_dict");
  // A clone counts on from the same value, independently.
  auto copy = std::dynamic_pointer_cast<nn::BatchNorm1d<float, CUDA>>(bn.clone());
  REQUIRE(copy);
  (*copy)(hnn::randn<float>({8, 2}).template to<CUDA>());
  CHECK(copy->num_batches_tracked() == 7);
  CHECK(bn.num_batches_tracked() == 6);
  // reset_running_stats starts again from 0.
  bn.reset_running_stats();
  reference.reset_running_stats();
  step();
  CHECK(bn.num_batches_tracked() == 1);
  expect_close(host(bn.running_var()), reference.running_var().template cast<double>(), 1e-5, -1,
               "running_var after reset_running_stats");
}

TEST_CASE("CUDA errors name the failing call", "[cuda][errors]") {
  float host_value = 0;
  try {
    // A host pointer passed as device-to-device source and destination of an impossible size.
    HNN_CUDA_CHECK(cudaMemcpy(&host_value, nullptr, size_t(1) << 62, cudaMemcpyDeviceToDevice));
    FAIL("expected cudaMemcpy to fail");
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    CHECK(what.find("cudaMemcpy") != std::string::npos);
    CHECK(what.find("failed: ") != std::string::npos);
    CHECK(what.find("batch_norm_cuda_test.cpp:") != std::string::npos);
  }
  // The error was cleared: the next call succeeds.
  CHECK(hnn::ones<float, CUDA>({4}).sum().item() == 4.0f);
}

int main(int argc, char* argv[]) { return hnn::test::run_cuda_tests(argc, argv); }
