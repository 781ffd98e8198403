// Google Benchmark suite for LeNet-BN inference (issue 10): samples/s on batches of 256 Fashion-MNIST-sized
// images (1x28x28), eval mode, for
//   hnn/unfolded          the trained-shape model with its batch norms, under NoGradGuard
//   hnn/folded            hnn::nn::utils::fold_batch_norm(model): every batch norm folded into its Conv2d /
//                         Linear, under NoGradGuard
//   hnn/folded_inference  the folded model under hnn::InferenceMode
//   torch/unfolded        the same network in libtorch 1.13 (torch::nn), eval mode, c10::InferenceMode
//                         (HNN_BENCH_WITH_TORCH); torch/folded: libtorch with the same folded weights
// The models get random weights and non-trivial running statistics (a few training-mode forwards on
// random batches), so the folded arithmetic is the real one. The outputs of all sides are compared once
// before timing (max |difference| printed), so a fast wrong side cannot slip through.
// One thread count per process: HNN_BENCH_THREADS=n (default 1), as batch_norm_bench.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <hnn/hnn.hpp>
#include <memory>
#include <string>
#include <vector>

#include "../tests/support/lenet_bn.hpp"

#ifdef HNN_WITH_OPENMP
#include <omp.h>
#endif
#ifdef HNN_BENCH_WITH_TORCH
#include <torch/torch.h>
#endif

namespace {

namespace nn = hnn::nn;
constexpr int64_t kBatch = 256;
int g_threads = 1;

/// The models every benchmark shares: built once, running statistics moved by training-mode forwards.
struct Models {
  nn::Sequential<float> unfolded = hnn_test::lenet_bn();
  nn::Sequential<float> folded;
  hnn::Tensor<float> input;

  Models() {
    hnn::manual_seed(7);
    unfolded = hnn_test::lenet_bn();
    {
      hnn::NoGradGuard no_grad;
      unfolded.train();
      for (int i = 0; i < 5; ++i) unfolded(hnn::randn<float>({kBatch, 1, 28, 28}) * 0.5f + 0.2f);
    }
    unfolded.eval();
    folded = nn::utils::fold_batch_norm(unfolded);
    input = hnn::rand<float>({kBatch, 1, 28, 28});
  }
};

Models& models() {
  static Models m;
  return m;
}

void set_counters(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["samples_per_s"] =
      benchmark::Counter(static_cast<double>(kBatch), benchmark::Counter::kIsIterationInvariantRate);
}

void bench_hnn(benchmark::State& state, bool fold, bool inference_mode) {
  auto& m = models();
  auto& net = fold ? m.folded : m.unfolded;
  for (auto _ : state) {
    if (inference_mode) {
      hnn::InferenceMode guard;
      auto y = net(m.input);
      benchmark::DoNotOptimize(y.data());
    } else {
      hnn::NoGradGuard guard;
      auto y = net(m.input);
      benchmark::DoNotOptimize(y.data());
    }
  }
  set_counters(state);
}

#ifdef HNN_BENCH_WITH_TORCH
/// libtorch's LeNet with hnn's weights and statistics copied in (state_dict keys are the same).
torch::nn::Sequential torch_lenet(const nn::Sequential<float>& source, bool batch_norm) {
  torch::nn::Sequential net;
  auto conv = [](int64_t in, int64_t out) { return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 5)); };
  net->push_back(conv(1, 6));
  if (batch_norm) net->push_back(torch::nn::BatchNorm2d(6));
  net->push_back(torch::nn::Sigmoid());
  net->push_back(torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(2).stride(2)));
  net->push_back(conv(6, 16));
  if (batch_norm) net->push_back(torch::nn::BatchNorm2d(16));
  net->push_back(torch::nn::Sigmoid());
  net->push_back(torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(2).stride(2)));
  net->push_back(torch::nn::Flatten());
  net->push_back(torch::nn::Linear(256, 120));
  if (batch_norm) net->push_back(torch::nn::BatchNorm1d(120));
  net->push_back(torch::nn::Sigmoid());
  net->push_back(torch::nn::Linear(120, 84));
  if (batch_norm) net->push_back(torch::nn::BatchNorm1d(84));
  net->push_back(torch::nn::Sigmoid());
  net->push_back(torch::nn::Linear(84, 10));
  torch::NoGradGuard no_grad;
  auto params = net->named_parameters();
  auto buffers = net->named_buffers();
  auto copy_in = [](at::Tensor dst, const hnn::Tensor<float>& src) {
    auto values = src.contiguous().to_vector();
    dst.copy_(torch::from_blob(values.data(), dst.sizes(), torch::kFloat).clone());
  };
  for (const auto& [name, p] : source.named_parameters()) copy_in(params[name], p);
  for (const auto& [name, b] : source.named_buffers())
    if (name.find("num_batches_tracked") == std::string::npos) copy_in(buffers[name], b.template as<float>());
  net->eval();
  return net;
}

at::Tensor torch_input() {
  auto values = models().input.to_vector();
  return torch::from_blob(values.data(), {kBatch, 1, 28, 28}, torch::kFloat).clone();
}

void bench_torch(benchmark::State& state, bool fold) {
  auto& m = models();
  auto net = torch_lenet(fold ? m.folded : m.unfolded, !fold);
  const at::Tensor x = torch_input();
  for (auto _ : state) {
    c10::InferenceMode guard;
    auto y = net->forward(x);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  set_counters(state);
}
#endif

/// Every side's output on the shared input, compared with the unfolded hnn model's.
void check_outputs() {
  auto& m = models();
  hnn::NoGradGuard no_grad;
  const auto ref = m.unfolded(m.input).to_vector();
  auto report = [&](const char* side, const std::vector<float>& got) {
    double worst = 0;
    for (size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::abs(double(got[i]) - ref[i]));
    std::fprintf(stderr, "check: %-16s max |output - hnn unfolded| = %.3g\n", side, worst);
    if (!(worst < 1e-3)) {
      std::fprintf(stderr, "check: %s disagrees with the unfolded model\n", side);
      std::exit(1);
    }
  };
  report("hnn folded", m.folded(m.input).to_vector());
#ifdef HNN_BENCH_WITH_TORCH
  for (bool fold : {false, true}) {
    auto net = torch_lenet(fold ? m.folded : m.unfolded, !fold);
    c10::InferenceMode guard;
    auto y = net->forward(torch_input()).contiguous();
    report(fold ? "torch folded" : "torch unfolded",
           std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel()));
  }
#endif
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* env = std::getenv("HNN_BENCH_THREADS")) g_threads = std::max(1, std::atoi(env));
  hnn::set_num_threads(g_threads);
#ifdef HNN_BENCH_WITH_TORCH
  at::set_num_threads(g_threads);
#endif
  benchmark::AddCustomContext("threads", std::to_string(g_threads));
  benchmark::AddCustomContext("batch", std::to_string(kBatch));
  check_outputs();
  benchmark::RegisterBenchmark("lenet_bn/hnn/unfolded",
                               [](benchmark::State& s) { bench_hnn(s, false, false); });
  benchmark::RegisterBenchmark("lenet_bn/hnn/folded", [](benchmark::State& s) { bench_hnn(s, true, false); });
  benchmark::RegisterBenchmark("lenet_bn/hnn/folded_inference",
                               [](benchmark::State& s) { bench_hnn(s, true, true); });
#ifdef HNN_BENCH_WITH_TORCH
  benchmark::RegisterBenchmark("lenet_bn/torch/unfolded", [](benchmark::State& s) { bench_torch(s, false); });
  benchmark::RegisterBenchmark("lenet_bn/torch/folded", [](benchmark::State& s) { bench_torch(s, true); });
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
