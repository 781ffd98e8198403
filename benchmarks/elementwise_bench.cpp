// Google Benchmark suite for the unary math ops that the precision audit (issue 17) changed: sigmoid, exp,
// log, sqrt (and tanh, unchanged), float and double, on 64 Ki and 4 Mi elements, beside
//   eigen_logistic  the sigmoid hnn had before: Eigen's logistic() (a fast rational approximation with a
//                   1e-3 relative error near x = -9), run through the same parallel chunks as hnn's ops
//   torch           libtorch's torch::sigmoid / exp / ... on the same data (HNN_BENCH_WITH_TORCH)
// Inputs: uniform over [-10, 10] (log and sqrt: their absolute values), generated once; outputs preallocated
// where the op allows (hnn allocates its outputs through its caching allocator, as libtorch does).
// One thread count per process: HNN_BENCH_THREADS=n (default 1). Items/s is elements per second.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <hnn/hnn.hpp>
#include <string>
#include <vector>

#ifdef HNN_BENCH_WITH_TORCH
#include <torch/torch.h>
#endif

namespace {

template <class T>
hnn::Tensor<T> input(int64_t n, bool positive) {
  hnn::Generator gen(42);
  auto x = hnn::rand<T>({n}, gen) * T(20) - T(10);
  return positive ? x.abs() + T(1e-3) : x;
}

template <class T>
hnn::Tensor<T> hnn_op(const std::string& op, const hnn::Tensor<T>& x) {
  if (op == "sigmoid") return x.sigmoid();
  if (op == "exp") return x.exp();
  if (op == "log") return x.log();
  if (op == "sqrt") return x.sqrt();
  return x.tanh();
}

template <class T>
void BM_hnn(benchmark::State& state, std::string op) {
  const auto x = input<T>(state.range(0), op == "log" || op == "sqrt");
  for (auto _ : state) benchmark::DoNotOptimize(hnn_op(op, x).data());
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

/// hnn's sigmoid before issue 17: Eigen's logistic() in hnn's parallel chunks.
template <class T>
void BM_eigen_logistic(benchmark::State& state) {
  const auto x = input<T>(state.range(0), false);
  auto y = hnn::Tensor<T>::empty(x.shape());
  const T* src = x.data();
  T* dst = y.data();
  for (auto _ : state) {
    hnn::parallel_for(x.numel(), hnn::parallel_grain, [&](int64_t b, int64_t e) {
      Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>(dst + b, e - b) =
          Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(src + b, e - b).logistic();
    });
    benchmark::DoNotOptimize(dst);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

#ifdef HNN_BENCH_WITH_TORCH
template <class T>
void BM_torch(benchmark::State& state, std::string op) {
  const auto x_hnn = input<T>(state.range(0), op == "log" || op == "sqrt");
  const auto dtype = std::is_same_v<T, float> ? torch::kFloat32 : torch::kFloat64;
  auto x = torch::from_blob(const_cast<T*>(x_hnn.data()), {state.range(0)}, dtype).clone();
  c10::InferenceMode guard;
  for (auto _ : state) {
    auto y = op == "sigmoid" ? torch::sigmoid(x)
             : op == "exp"   ? torch::exp(x)
             : op == "log"   ? torch::log(x)
             : op == "sqrt"  ? torch::sqrt(x)
                             : torch::tanh(x);
    benchmark::DoNotOptimize(y.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
#endif

void sizes(benchmark::internal::Benchmark* b) {
  b->Arg(1 << 16)->Arg(1 << 22)->Unit(benchmark::kMicrosecond);
}

int register_all() {
  const int threads = std::getenv("HNN_BENCH_THREADS") ? std::atoi(std::getenv("HNN_BENCH_THREADS")) : 1;
  hnn::set_num_threads(threads);
#ifdef HNN_BENCH_WITH_TORCH
  torch::set_num_threads(threads);
#endif
  benchmark::RegisterBenchmark("sigmoid/float/eigen_logistic", BM_eigen_logistic<float>)->Apply(sizes);
  benchmark::RegisterBenchmark("sigmoid/double/eigen_logistic", BM_eigen_logistic<double>)->Apply(sizes);
  for (std::string op : {"sigmoid", "exp", "log", "sqrt", "tanh"}) {
    benchmark::RegisterBenchmark((op + "/float/hnn").c_str(), BM_hnn<float>, op)->Apply(sizes);
    benchmark::RegisterBenchmark((op + "/double/hnn").c_str(), BM_hnn<double>, op)->Apply(sizes);
#ifdef HNN_BENCH_WITH_TORCH
    benchmark::RegisterBenchmark((op + "/float/torch").c_str(), BM_torch<float>, op)->Apply(sizes);
    benchmark::RegisterBenchmark((op + "/double/torch").c_str(), BM_torch<double>, op)->Apply(sizes);
#endif
  }
  return 0;
}

const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
