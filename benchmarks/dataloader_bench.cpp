// Google Benchmark suite for the DataLoader (issue 22 item 4): whole epochs with batches assembled on the
// calling thread (prefetch 0, the default) against the persistent prefetch worker (prefetch 1, 2):
//   tabular/...   a TensorDataset of 450 x 30 floats, batches of 16, shuffled, each batch summed (the
//                 k-fold tabular runs of the report: many short epochs of tiny batches);
//   fmnist_load/  Fashion-MNIST's training images, batches of 256, shuffled, each batch summed: the
//                 loading alone;
//   lenet_bn/...  one LeNet-BN training epoch (SGD, cross entropy) on Fashion-MNIST's 60 000 training
//                 images (or the first HNN_BENCH_LENET_SAMPLES of them), batches of 256, shuffled.
// One iteration is one epoch; each repetition builds its own loader (the worker starts in its first epoch).
// Threads: HNN_BENCH_THREADS (OpenMP), default 2. Data: HNN_BENCH_DATA, default
// /usr/share/datasets/fashion-mnist (the Fashion-MNIST rows are skipped when it is missing).
//   build-bench/benchmarks/dataloader_bench --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <hnn/hnn.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "../tests/support/lenet_bn.hpp"

namespace {

namespace nn = hnn::nn;
using hnn::data::DataLoader;
using hnn::data::DataLoaderOptions;

std::string data_dir() {
  const char* env = std::getenv("HNN_BENCH_DATA");
  return env ? env : "/usr/share/datasets/fashion-mnist";
}

int64_t lenet_samples() {
  const char* env = std::getenv("HNN_BENCH_LENET_SAMPLES");
  return env ? std::max<int64_t>(256, std::atoll(env)) : 60000;
}

/// The trivial consumer: the sum of the batch's values.
template <class Batch>
float sum_of(const Batch& batch) {
  const float* p = batch.data.data();
  float sum = 0;
  for (int64_t i = 0, n = batch.data.numel(); i < n; ++i) sum += p[i];
  return sum;
}

template <class Loader>
void summed_epochs(benchmark::State& state, const Loader& loader) {
  int64_t batches = 0;
  for (auto _ : state) {
    float total = 0;
    for (const auto& batch : loader) {
      total += sum_of(batch);
      ++batches;
    }
    benchmark::DoNotOptimize(total);
  }
  state.counters["batches/epoch"] = static_cast<double>(batches) / static_cast<double>(state.iterations());
}

void bench_tabular(benchmark::State& state, int64_t prefetch) {
  hnn::Generator gen(1);
  hnn::data::TensorDataset<float, int64_t> dataset(hnn::randn<float>({450, 30}, gen),
                                                   hnn::randint<int64_t>(0, 2, {450}, gen));
  DataLoader loader(dataset, DataLoaderOptions().batch_size(16).shuffle(true).seed(3).prefetch(prefetch));
  summed_epochs(state, loader);
}

const hnn::data::MNIST<float>& fashion_mnist() {
  static const hnn::data::MNIST<float> train(data_dir(), /*train=*/true);
  return train;
}

void bench_fmnist_load(benchmark::State& state, int64_t prefetch) {
  DataLoader loader(fashion_mnist(),
                    DataLoaderOptions().batch_size(256).shuffle(true).seed(3).prefetch(prefetch));
  summed_epochs(state, loader);
}

void bench_lenet(benchmark::State& state, int64_t prefetch) {
  std::vector<int64_t> first(static_cast<size_t>(std::min(lenet_samples(), fashion_mnist().size())));
  std::iota(first.begin(), first.end(), int64_t(0));
  hnn::data::Subset subset(fashion_mnist(), first);
  DataLoader loader(subset, DataLoaderOptions().batch_size(256).shuffle(true).seed(3).prefetch(prefetch));
  hnn::manual_seed(0);
  auto model = hnn_test::lenet_bn();
  model.train();
  hnn::optim::SGD optimizer(model.parameters(), hnn::optim::SGDOptions(0.1));
  nn::CrossEntropyLoss criterion;
  auto step = [&](const auto& batch) {
    optimizer.zero_grad();
    auto loss = criterion(model(batch.data), batch.target);
    loss.backward();
    optimizer.step();
    return loss.item();
  };
  {
    // Warm the caching allocator with the epoch's shapes before the timer.
    const auto warm = subset.get_batch(std::vector<int64_t>(first.begin(), first.begin() + 256));
    for (int i = 0; i < 2; ++i) step(warm);
  }
  for (auto _ : state) {
    double loss = 0;
    for (const auto& batch : loader) loss += step(batch);
    benchmark::DoNotOptimize(loss);
  }
  state.counters["samples"] = static_cast<double>(first.size());
}

template <class F>
benchmark::internal::Benchmark* add(const std::string& name, F&& f) {
  return benchmark::RegisterBenchmark(name.c_str(), std::forward<F>(f))->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  if (const char* env = std::getenv("HNN_BENCH_THREADS")) threads = std::max(1, std::atoi(env));
  hnn::set_num_threads(threads);
  benchmark::AddCustomContext("threads", std::to_string(threads));
  for (int64_t prefetch : {0, 1, 2})
    add("tabular_450x30_b16/prefetch:" + std::to_string(prefetch), [prefetch](benchmark::State& s) {
      bench_tabular(s, prefetch);
    })->Unit(benchmark::kMicrosecond);
  if (std::filesystem::is_directory(data_dir())) {
    benchmark::AddCustomContext("lenet_samples", std::to_string(lenet_samples()));
    for (int64_t prefetch : {0, 1})
      add("fmnist_load_b256/prefetch:" + std::to_string(prefetch), [prefetch](benchmark::State& s) {
        bench_fmnist_load(s, prefetch);
      })->Unit(benchmark::kMillisecond);
    for (int64_t prefetch : {0, 1})
      add("lenet_bn_epoch_b256/prefetch:" + std::to_string(prefetch),
          [prefetch](benchmark::State& s) { bench_lenet(s, prefetch); })
          ->Unit(benchmark::kMillisecond)
          ->Iterations(1);
  } else {
    std::fprintf(stderr, "dataloader_bench: no %s, Fashion-MNIST rows skipped\n", data_dir().c_str());
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
