// Tests for the CUDA backend (include/hnn/cuda.hpp, kernels/cuda/batch_norm.cuh): the PyTorch batch-norm
// fixtures replayed on the device, CPU-vs-CUDA agreement on random inputs of many shapes (outputs,
// running statistics, gradients), device tensors (copies, fill, arithmetic, sums, accumulation), the
// caching allocator and CUDA error messages. main() returns 77 (ctest: skipped) without a GPU.
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

#include "reference.hpp"

namespace nn = hnn::nn;
using hnn::CPU;
using hnn::CUDA;
using hnn::test::expect_close;

namespace {

const hnn::test::References& refs() {
  static hnn::test::References r("batch_norm.json");
  return r;
}

template <class T>
hnn::Tensor<T, CUDA> dev(const hnn::Tensor<T, CPU>& t) {
  return t.template to<CUDA>();
}
template <class T>
hnn::Tensor<T, CPU> host(const hnn::Tensor<T, CUDA>& t) {
  return t.template to<CPU>();
}

nn::BatchNormOptions options_of(const hnn::test::ReferenceCase& c, int64_t C) {
  const auto& p = c.json()["params"];
  nn::BatchNormOptions opts(C);
  opts.eps(p["eps"].get<double>())
      .affine(p["affine"].get<bool>())
      .track_running_stats(p["track"].get<bool>());
  if (p["momentum"].is_null())
    opts.momentum(std::nullopt);
  else
    opts.momentum(p["momentum"].get<double>());
  return opts;
}

/// The fixture replay of tests/nn/batch_norm_test.cpp with every tensor on the device.
template <class Module, class T>
void replay(const hnn::test::ReferenceCase& c) {
  INFO("case " << c.name() << ": " << c.call());
  auto x0 = c.tensor<T>("x0");
  Module bn(options_of(c, x0.size(1)));
  const bool affine = c.param<bool>("affine"), track = c.param<bool>("track");
  if (affine) {
    hnn::NoGradGuard guard;
    bn.weight().copy_(dev(c.tensor<T>("weight0")));
    bn.bias().copy_(dev(c.tensor<T>("bias0")));
  }
  REQUIRE(bn.running_mean().defined() == track);
  const T* running_mean_storage = track ? bn.running_mean().data() : nullptr;
  auto sequence = c.json()["params"]["sequence"].get<std::vector<std::string>>();
  const double rtol = hnn::test::default_rtol<T>();
  for (size_t k = 0; k < sequence.size(); ++k) {
    const std::string s = std::to_string(k);
    INFO("step " << k << " (" << sequence[k] << ")");
    bn.train(sequence[k] == "train");
    auto x = dev(c.tensor<T>("x" + s)).requires_grad_(true);
    auto y = bn(x);
    expect_close(host(y), c.tensor<double>("y" + s), rtol, -1, "output y" + s);
    (y * dev(c.tensor<T>("r" + s))).sum().backward();
    REQUIRE(x.grad().defined());
    expect_close(host(x.grad()), c.tensor<double>("dx" + s), rtol, -1, "grad of x" + s);
    if (track) {
      expect_close(host(bn.running_mean()), c.tensor<double>("running_mean" + s), rtol, -1,
                   "running_mean " + s);
      expect_close(host(bn.running_var()), c.tensor<double>("running_var" + s), rtol, -1, "running_var " + s);
      CHECK(bn.num_batches_tracked() == c.tensor<int64_t>("num_batches_tracked" + s).item());
      CHECK(bn.running_mean().data() == running_mean_storage);
    }
  }
  if (affine) {
    expect_close(host(bn.weight().grad()), c.tensor<double>("dweight"), rtol, -1, "grad of weight");
    expect_close(host(bn.bias().grad()), c.tensor<double>("dbias"), rtol, -1, "grad of bias");
  }
}

template <class T>
void replay_any(const std::string& name) {
  auto c = refs().get(name);
  const std::string layout = name.substr(0, name.find('_'));
  if (layout == "1d" || layout == "1dL" || name.find("offset1e3_1d") == 0)
    replay<nn::BatchNorm1d<T, CUDA>, T>(c);
  else if (layout == "2d" || name.find("offset1e3_2d") == 0)
    replay<nn::BatchNorm2d<T, CUDA>, T>(c);
  else if (layout == "3d")
    replay<nn::BatchNorm3d<T, CUDA>, T>(c);
  else
    FAIL("unknown layout in case " << name);
}

/// One training step, one eval step and backward on the CPU and on the device; everything compared.
template <class T>
void compare_cpu_cuda(const hnn::Shape& shape, double offset, uint64_t seed) {
  INFO("shape " << shape << ", offset " << offset);
  hnn::Generator gen(seed);
  const int64_t C = shape[1];
  auto x_cpu = hnn::add(hnn::randn<T>(shape, gen), static_cast<T>(offset));
  auto dy_cpu = hnn::randn<T>(shape, gen);
  auto w_cpu = hnn::add(hnn::rand<T>({C}, gen), T(0.5));
  auto b_cpu = hnn::randn<T>({C}, gen);
  auto rm_cpu = hnn::randn<T>({C}, gen);
  auto rv_cpu = hnn::add(hnn::rand<T>({C}, gen), T(0.5));
  auto x_gpu = dev(x_cpu), dy_gpu = dev(dy_cpu), w_gpu = dev(w_cpu), b_gpu = dev(b_cpu), rm_gpu = dev(rm_cpu),
       rv_gpu = dev(rv_cpu);
  x_cpu.requires_grad_(true), w_cpu.requires_grad_(true), b_cpu.requires_grad_(true);
  x_gpu.requires_grad_(true), w_gpu.requires_grad_(true), b_gpu.requires_grad_(true);
  const double rtol = hnn::test::default_rtol<T>();
  for (bool training : {true, false}) {
    INFO((training ? "training" : "eval"));
    x_cpu.zero_grad(), w_cpu.zero_grad(), b_cpu.zero_grad();
    x_gpu.zero_grad(), w_gpu.zero_grad(), b_gpu.zero_grad();
    auto y_cpu = nn::functional::batch_norm(x_cpu, rm_cpu, rv_cpu, w_cpu, b_cpu, training, 0.1, 1e-5);
    auto y_gpu = nn::functional::batch_norm(x_gpu, rm_gpu, rv_gpu, w_gpu, b_gpu, training, 0.1, 1e-5);
    expect_close(host(y_gpu), y_cpu.template cast<double>(), rtol, -1, "y");
    expect_close(host(rm_gpu), rm_cpu.template cast<double>(), rtol, -1, "running_mean");
    expect_close(host(rv_gpu), rv_cpu.template cast<double>(), rtol, -1, "running_var");
    y_cpu.backward(dy_cpu);
    y_gpu.backward(dy_gpu);
    expect_close(host(x_gpu.grad()), x_cpu.grad().template cast<double>(), rtol, -1, "dx");
    expect_close(host(w_gpu.grad()), w_cpu.grad().template cast<double>(), rtol, -1, "dweight");
    expect_close(host(b_gpu.grad()), b_cpu.grad().template cast<double>(), rtol, -1, "dbias");
  }
}

}  // namespace

TEMPLATE_TEST_CASE("CUDA BatchNorm matches the PyTorch fixtures", "[cuda][batchnorm][reference]", float,
                   double) {
  auto names = refs().names();
  REQUIRE(names.size() >= 96);
  for (const auto& name : names) {
    SECTION(name) { replay_any<TestType>(name); }
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
    for (double offset : {0.0, 1000.0}) compare_cpu_cuda<TestType>(shape, offset, seed++);
  }
}

TEST_CASE("CUDA tensors: copies, fill, arithmetic, sums and gradient accumulation", "[cuda][tensor]") {
  auto a_cpu = hnn::tensor<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  auto b_cpu = hnn::tensor<float>({10, 20, 30}, {3});
  auto a = dev(a_cpu), b = dev(b_cpu);
  CHECK(host(a).to_vector() == a_cpu.to_vector());
  CHECK(a.to_vector() == a_cpu.to_vector());
  CHECK(host(a + b).to_vector() == (a_cpu + b_cpu).to_vector());
  CHECK(host(a - b).to_vector() == (a_cpu - b_cpu).to_vector());
  CHECK(host(a * b).to_vector() == (a_cpu * b_cpu).to_vector());
  CHECK(host(a / b).to_vector() == (a_cpu / b_cpu).to_vector());
  CHECK(host(a * 2.0f + 1.0f).to_vector() == (a_cpu * 2.0f + 1.0f).to_vector());
  CHECK(host(1.0f - a).to_vector() == (1.0f - a_cpu).to_vector());
  CHECK(host(-a).to_vector() == (-a_cpu).to_vector());
  CHECK(host(a.sum({0})).to_vector() == a_cpu.sum({0}).to_vector());
  CHECK(host(a.sum({1}, true)).to_vector() == a_cpu.sum({1}, true).to_vector());
  CHECK(a.sum().item() == a_cpu.sum().item());
  CHECK(a.mean().item() == Approx(a_cpu.mean().item()));
  CHECK(host(a.t().contiguous()).to_vector() == a_cpu.t().contiguous().to_vector());
  CHECK(host(a.template cast<double>()).to_vector() == a_cpu.template cast<double>().to_vector());

  auto z = hnn::zeros<float, CUDA>({3, 4});
  CHECK(host(z).to_vector() == std::vector<float>(12, 0.0f));
  z.select(1, 2).fill_(7.0f);  // a strided fill
  auto expected = hnn::zeros<float>({3, 4});
  expected.select(1, 2).fill_(7.0f);
  CHECK(host(z).to_vector() == expected.to_vector());
  CHECK(host(hnn::full<double, CUDA>({5}, 2.5)).to_vector() == std::vector<double>(5, 2.5));

  // A large sum splits rows over many blocks: compare with the CPU sum of the same values.
  hnn::Generator gen(7);
  auto big = hnn::randn<double>({3, 200000}, gen);
  expect_close(host(dev(big).sum({1})), big.sum({1}), 1e-12, -1, "large row sums");

  // Gradients accumulate on the device across two backward calls.
  auto w = dev(hnn::tensor<float>({1, 2, 3})).requires_grad_(true);
  auto c = dev(hnn::tensor<float>({4, 5, 6}));
  (w * c).sum().backward();
  (w * c).sum().backward();
  CHECK(host(w.grad()).to_vector() == std::vector<float>{8, 10, 12});
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

int main(int argc, char* argv[]) {
  bool listing = false;
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    if (std::strncmp(arg, "--list", 6) == 0 || std::strcmp(arg, "-l") == 0 || std::strcmp(arg, "-h") == 0 ||
        std::strcmp(arg, "--help") == 0)
      listing = true;
  }
  // Without a GPU or driver cudaGetDeviceCount fails (cudaErrorNoDevice / cudaErrorInsufficientDriver)
  // and leaves the count alone, hence hnn::cuda::device_count() starting from 0.
  if (!listing && !hnn::cuda::is_available()) {
    std::cout << "SKIPPED: no CUDA device (cudaGetDeviceCount found none); the CUDA tests need a GPU\n";
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
