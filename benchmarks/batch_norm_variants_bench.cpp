// The batch-norm variants at module level (autograd included), against one BatchNorm call on the same
// input: GhostBatchNorm2d with virtual batches of 32 on (256, 64, 16, 16), next to BatchNorm2d and to the
// usual way of writing ghost batch norm by hand (narrow, a BatchNorm2d per chunk, cat: pytorch-tabnet's
// GBN), forward in training and backward; MaskedBatchNorm1d on (64, 64, 128) with 3/4 of the positions
// valid against BatchNorm1d on the whole input. Threads: HNN_BENCH_THREADS (OpenMP), default 2.
//   build-bench/benchmarks/batch_norm_variants_bench --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <hnn/hnn.hpp>
#include <string>
#include <vector>
#ifdef HNN_WITH_OPENMP
#include <omp.h>
#endif

namespace nn = hnn::nn;

namespace {

const hnn::Shape kImage{256, 64, 16, 16};
constexpr int64_t kVirtualBatch = 32;

enum class Kind { batch_norm, ghost, ghost_by_hand };

/// The module's training forward on x (with the input's gradient recorded, as in training).
struct Runner {
  Kind kind;
  nn::BatchNorm2d<float> bn{64};
  nn::GhostBatchNorm2d<float> ghost{nn::BatchNormOptions(64), kVirtualBatch};

  hnn::Tensor<float> forward(const hnn::Tensor<float>& x) {
    switch (kind) {
      case Kind::batch_norm:
        return bn(x);
      case Kind::ghost:
        return ghost(x);
      default: {
        std::vector<hnn::Tensor<float>> chunks;
        for (int64_t first = 0; first < x.size(0); first += kVirtualBatch)
          chunks.push_back(bn(x.narrow(0, first, std::min(kVirtualBatch, x.size(0) - first))));
        return hnn::cat(chunks, 0);
      }
    }
  }
};

void bench_forward(benchmark::State& state, Kind kind) {
  hnn::Generator gen(1);
  Runner r{kind};
  auto x = (hnn::randn<float>(kImage, gen) * 2.0f + 0.5f).requires_grad_(true);
  for (auto _ : state) {
    auto y = r.forward(x);
    benchmark::DoNotOptimize(y.data());
  }
}

void bench_backward(benchmark::State& state, Kind kind) {
  hnn::Generator gen(2);
  Runner r{kind};
  auto x = (hnn::randn<float>(kImage, gen) * 2.0f + 0.5f).requires_grad_(true);
  auto dy = hnn::randn<float>(kImage, gen);
  for (auto _ : state) {
    state.PauseTiming();
    x.zero_grad();
    r.bn.zero_grad();
    r.ghost.zero_grad();
    auto y = r.forward(x);
    state.ResumeTiming();
    y.backward(dy);
    benchmark::DoNotOptimize(x.grad().data());
  }
}

void bench_masked(benchmark::State& state, bool masked) {
  hnn::Generator gen(3);
  const int64_t N = 64, C = 64, L = 128;
  auto x = hnn::randn<float>({N, C, L}, gen).requires_grad_(true);
  std::vector<int64_t> flags(static_cast<size_t>(N * L));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t l = 0; l < L; ++l) flags[static_cast<size_t>(n * L + l)] = l < L * 3 / 4 ? 1 : 0;
  const auto mask = hnn::tensor<int64_t>(flags, {N, L});
  nn::MaskedBatchNorm1d<float> m(C);
  nn::BatchNorm1d<float> bn(C);
  for (auto _ : state) {
    auto y = masked ? m.forward(x, mask) : bn(x);
    benchmark::DoNotOptimize(y.data());
  }
}

template <class F>
void add(const std::string& name, F&& f) {
  benchmark::RegisterBenchmark(name.c_str(), std::forward<F>(f))
      ->Unit(benchmark::kMicrosecond)
      ->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  if (const char* env = std::getenv("HNN_BENCH_THREADS")) threads = std::max(1, std::atoi(env));
#ifdef HNN_WITH_OPENMP
  omp_set_num_threads(threads);
#else
  threads = 1;
#endif
  benchmark::AddCustomContext("threads", std::to_string(threads));
  const std::string shape = "256x64x16x16";
  add("train/" + shape + "/BatchNorm2d", [](benchmark::State& s) { bench_forward(s, Kind::batch_norm); });
  add("train/" + shape + "/GhostBatchNorm2d_vb32",
      [](benchmark::State& s) { bench_forward(s, Kind::ghost); });
  add("train/" + shape + "/by_hand_narrow_bn_cat_vb32",
      [](benchmark::State& s) { bench_forward(s, Kind::ghost_by_hand); });
  add("backward/" + shape + "/BatchNorm2d", [](benchmark::State& s) { bench_backward(s, Kind::batch_norm); });
  add("backward/" + shape + "/GhostBatchNorm2d_vb32",
      [](benchmark::State& s) { bench_backward(s, Kind::ghost); });
  add("backward/" + shape + "/by_hand_narrow_bn_cat_vb32",
      [](benchmark::State& s) { bench_backward(s, Kind::ghost_by_hand); });
  add("train/64x64x128/BatchNorm1d", [](benchmark::State& s) { bench_masked(s, false); });
  add("train/64x64x128/MaskedBatchNorm1d_75pct", [](benchmark::State& s) { bench_masked(s, true); });
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
