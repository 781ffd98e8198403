// Google Benchmark suite for the CPU batch-norm kernels (include/hnn/kernels/cpu/batch_norm.hpp),
// side by side with libtorch and oneDNN when built with them, and a copy of the same bytes.
//
// Sides (float32, contiguous NCHW / (N, C) input):
//   hnn        hnn::kernels::cpu::BatchNorm::{forward_train, forward_eval, backward} on caller-owned buffers
//   torch      at::native_batch_norm / at::native_batch_norm_backward (HNN_BENCH_WITH_TORCH)
//   dnnl_nchw  oneDNN batch normalization on the plain layout (HNN_BENCH_WITH_DNNL)
//   dnnl_nhwc  oneDNN on nhwc: the layout that gets its JIT kernel for (N, C) = (N, C, 1, 1) inputs
//   dnnl_16c   oneDNN on the blocked nChw16c layout (4-D shapes; reorders are not timed): its native
//              blocking with AVX-512; without AVX-512 it falls back to a slow generic kernel
//   dnnl_8c    oneDNN on nChw8c, the native blocking of AVX2 machines (4-D shapes)
//   copy       memcpy of the bytes of x, split among the threads: the bandwidth reference
// Traffic model (B = bytes of x): forward-train 3B, forward-eval 2B, backward 5B, copy 2B. The GB/s
// counter is that traffic divided by the time; ratios between sides are printed as a table at the end.
//
// One thread count per process (libtorch, oneDNN and hnn share libgomp): HNN_BENCH_THREADS=n (default 1).
// Buffers are reused across iterations (cache-hot; shapes larger than the L3 stream from DRAM anyway).
// Every side runs under the same glibc malloc settings, set first thing in main (see kMallocNote).
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "hnn/kernels/cpu/batch_norm.hpp"

#ifdef HNN_WITH_OPENMP
#include <omp.h>
#endif
#ifdef HNN_BENCH_WITH_TORCH
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#endif
#ifdef HNN_BENCH_WITH_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

namespace {

using bn = hnn::kernels::cpu::BatchNorm;

constexpr const char* kMallocNote =
    "glibc mallopt(M_MMAP_MAX = 0, M_TRIM_THRESHOLD = INT_MAX) for every side: no block is served by mmap "
    "and "
    "the heap is never trimmed, so large freed blocks are reused instead of being unmapped and page-faulted "
    "again on every call";

struct Shape {
  int64_t N, C, H, W;  // (N, C) inputs have H = W = 1 and are reported as 2 dims
  bool two_d() const { return H == 1 && W == 1; }
  int64_t S() const { return H * W; }
  int64_t numel() const { return N * C * H * W; }
  double bytes() const { return 4.0 * static_cast<double>(numel()); }
  std::string name() const {
    std::string s = std::to_string(N) + "x" + std::to_string(C);
    if (!two_d()) s += "x" + std::to_string(H) + "x" + std::to_string(W);
    return s;
  }
};

const std::vector<Shape> kShapes = {{256, 1024, 1, 1},  {4096, 1024, 1, 1}, {64, 256, 1, 1}, {64, 64, 56, 56},
                                    {128, 256, 14, 14}, {256, 6, 24, 24},   {256, 16, 8, 8}};

enum class Op { train, eval, backward, copy };
const char* op_name(Op op) {
  switch (op) {
    case Op::train:
      return "train";
    case Op::eval:
      return "eval";
    case Op::backward:
      return "backward";
    default:
      return "copy";
  }
}
double traffic(Op op, const Shape& s) {
  switch (op) {
    case Op::train:
      return 3 * s.bytes();
    case Op::eval:
      return 2 * s.bytes();
    case Op::backward:
      return 5 * s.bytes();
    default:
      return 2 * s.bytes();
  }
}

int g_threads = 1;

/// 64-byte aligned float buffer, filled (so every page is touched before timing).
struct Buffer {
  float* data = nullptr;
  size_t size = 0;
  explicit Buffer(size_t n, float fill = 0.0f) : size(n) {
    data = static_cast<float*>(std::aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64 + 64));
    std::fill(data, data + n, fill);
  }
  ~Buffer() { std::free(data); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

void fill_normal(float* p, size_t n, float mean, float stddev, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> normal(mean, stddev);
  for (size_t i = 0; i < n; ++i) p[i] = normal(gen);
}

void set_counters(benchmark::State& state, Op op, const Shape& s) {
  state.counters["GBps"] =
      benchmark::Counter(traffic(op, s) / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// ---------------------------------------------------------------------------------------------
// copy: the bandwidth reference, the same bytes as x, one contiguous slice per thread.

void bench_copy(benchmark::State& state, Shape s) {
  const size_t n = static_cast<size_t>(s.numel());
  Buffer src(n, 1.0f), dst(n);
  for (auto _ : state) {
#ifdef HNN_WITH_OPENMP
#pragma omp parallel num_threads(g_threads)
    {
      const size_t t = static_cast<size_t>(omp_get_thread_num()),
                   T = static_cast<size_t>(omp_get_num_threads());
      const size_t begin = n * t / T / 16 * 16, end = t + 1 == T ? n : n * (t + 1) / T / 16 * 16;
      std::memcpy(dst.data + begin, src.data + begin, (end - begin) * sizeof(float));
    }
#else
    std::memcpy(dst.data, src.data, n * sizeof(float));
#endif
    benchmark::DoNotOptimize(dst.data);
    benchmark::ClobberMemory();
  }
  set_counters(state, Op::copy, s);
}

// ---------------------------------------------------------------------------------------------
// hnn

// nhwc: the input laid out channels-last, as the op passes it to the kernels: (N*H*W, C) rows.
void bench_hnn(benchmark::State& state, Op op, Shape s, bool nhwc = false) {
  const size_t n = static_cast<size_t>(s.numel()), C = static_cast<size_t>(s.C);
  if (nhwc) s = Shape{s.N * s.S(), s.C, 1, 1};
  Buffer x(n), y(n), dy(n), weight(C, 1.0f), bias(C, 0.0f), running_mean(C, 0.0f), running_var(C, 1.0f);
  fill_normal(x.data, n, 0.5f, 2.0f, 1);
  fill_normal(dy.data, n, 0.0f, 1.0f, 2);
  fill_normal(weight.data, C, 1.0f, 0.1f, 3);
  std::vector<double> save_mean(C), save_invstd(C);
  Buffer grad_weight(C), grad_bias(C);
  const double eps = 1e-5, momentum = 0.1;
  bn::forward_train(x.data, y.data, s.N, s.C, s.S(), weight.data, bias.data, eps, momentum, running_mean.data,
                    running_var.data, save_mean.data(), save_invstd.data());
  for (auto _ : state) {
    switch (op) {
      case Op::train:
        bn::forward_train(x.data, y.data, s.N, s.C, s.S(), weight.data, bias.data, eps, momentum,
                          running_mean.data, running_var.data, save_mean.data(), save_invstd.data());
        break;
      case Op::eval:
        bn::forward_eval(x.data, y.data, s.N, s.C, s.S(), running_mean.data, running_var.data, weight.data,
                         bias.data, eps);
        break;
      default:
        bn::backward(dy.data, x.data, s.N, s.C, s.S(), weight.data, save_mean.data(), save_invstd.data(),
                     true, y.data, grad_weight.data, grad_bias.data);
    }
    benchmark::DoNotOptimize(y.data);
    benchmark::ClobberMemory();
  }
  set_counters(state, op, s);
}

// ---------------------------------------------------------------------------------------------
// libtorch

#ifdef HNN_BENCH_WITH_TORCH
void bench_torch(benchmark::State& state, Op op, Shape s) {
  c10::InferenceMode guard;
  const auto opts = at::TensorOptions().dtype(at::kFloat);
  std::vector<int64_t> sizes =
      s.two_d() ? std::vector<int64_t>{s.N, s.C} : std::vector<int64_t>{s.N, s.C, s.H, s.W};
  at::manual_seed(1);
  at::Tensor x = at::randn(sizes, opts) * 2 + 0.5, dy = at::randn(sizes, opts);
  at::Tensor weight = at::randn({s.C}, opts) * 0.1 + 1, bias = at::zeros({s.C}, opts);
  at::Tensor running_mean = at::zeros({s.C}, opts), running_var = at::ones({s.C}, opts);
  const double eps = 1e-5, momentum = 0.1;
  auto [y0, save_mean, save_invstd] =
      at::native_batch_norm(x, weight, bias, running_mean, running_var, true, momentum, eps);
  for (auto _ : state) {
    switch (op) {
      case Op::train: {
        auto out = at::native_batch_norm(x, weight, bias, running_mean, running_var, true, momentum, eps);
        benchmark::DoNotOptimize(std::get<0>(out).data_ptr());
        break;
      }
      case Op::eval: {
        auto out = at::native_batch_norm(x, weight, bias, running_mean, running_var, false, momentum, eps);
        benchmark::DoNotOptimize(std::get<0>(out).data_ptr());
        break;
      }
      default: {
        auto grads = at::native_batch_norm_backward(dy, x, weight, running_mean, running_var, save_mean,
                                                    save_invstd, true, eps, {true, true, true});
        benchmark::DoNotOptimize(std::get<0>(grads).data_ptr());
      }
    }
    benchmark::ClobberMemory();
  }
  set_counters(state, op, s);
}
#endif

// ---------------------------------------------------------------------------------------------
// oneDNN 2.6: forward_training (computes mean/variance, no running statistics), forward_inference with
// use_global_stats, backward (prop_kind::backward: diff_src, diff_scale, diff_shift).

#ifdef HNN_BENCH_WITH_DNNL
enum class DnnlLayout { nchw, nhwc, blocked16, blocked8 };

void bench_dnnl(benchmark::State& state, Op op, Shape s, DnnlLayout layout) {
  using namespace dnnl;
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const memory::dims dims = {s.N, s.C, s.H, s.W};
  const memory::format_tag tag = layout == DnnlLayout::nchw       ? memory::format_tag::nchw
                                 : layout == DnnlLayout::nhwc     ? memory::format_tag::nhwc
                                 : layout == DnnlLayout::blocked8 ? memory::format_tag::nChw8c
                                                                  : memory::format_tag::nChw16c;
  const memory::desc data_md(dims, memory::data_type::f32, tag);
  const memory::desc stat_md({s.C}, memory::data_type::f32, memory::format_tag::x);
  const float eps = 1e-5f;
  const auto affine = normalization_flags::use_scale | normalization_flags::use_shift;

  // Data is generated in nchw and reordered once (untimed) into the benchmarked layout.
  const memory::desc plain_md(dims, memory::data_type::f32, memory::format_tag::nchw);
  auto make_data = [&](float mean, float stddev, uint64_t seed) {
    memory plain(plain_md, eng);
    fill_normal(static_cast<float*>(plain.get_data_handle()), static_cast<size_t>(s.numel()), mean, stddev,
                seed);
    memory m(data_md, eng);
    std::memset(m.get_data_handle(), 0, data_md.get_size());
    reorder(plain, m).execute(strm, plain, m);
    strm.wait();
    return m;
  };
  memory src = make_data(0.5f, 2.0f, 1), diff_dst = make_data(0.0f, 1.0f, 2);
  memory dst(data_md, eng), diff_src(data_md, eng);
  std::memset(dst.get_data_handle(), 0, data_md.get_size());
  std::memset(diff_src.get_data_handle(), 0, data_md.get_size());
  memory scale(stat_md, eng), shift(stat_md, eng), mean(stat_md, eng), variance(stat_md, eng);
  memory diff_scale(stat_md, eng), diff_shift(stat_md, eng);
  fill_normal(static_cast<float*>(scale.get_data_handle()), static_cast<size_t>(s.C), 1.0f, 0.1f, 3);
  std::fill_n(static_cast<float*>(shift.get_data_handle()), s.C, 0.0f);

  const batch_normalization_forward::primitive_desc train_pd(
      batch_normalization_forward::desc(prop_kind::forward_training, data_md, eps, affine), eng);
  batch_normalization_forward train(train_pd);
  const std::unordered_map<int, memory> train_args = {{DNNL_ARG_SRC, src},     {DNNL_ARG_DST, dst},
                                                      {DNNL_ARG_SCALE, scale}, {DNNL_ARG_SHIFT, shift},
                                                      {DNNL_ARG_MEAN, mean},   {DNNL_ARG_VARIANCE, variance}};
  train.execute(strm, train_args);
  strm.wait();

  primitive prim;
  std::unordered_map<int, memory> args;
  if (op == Op::train) {
    prim = train;
    args = train_args;
  } else if (op == Op::eval) {
    const batch_normalization_forward::primitive_desc pd(
        batch_normalization_forward::desc(prop_kind::forward_inference, data_md, eps,
                                          affine | normalization_flags::use_global_stats),
        eng);
    prim = batch_normalization_forward(pd);
    args = {{DNNL_ARG_SRC, src},     {DNNL_ARG_DST, dst},   {DNNL_ARG_SCALE, scale},
            {DNNL_ARG_SHIFT, shift}, {DNNL_ARG_MEAN, mean}, {DNNL_ARG_VARIANCE, variance}};
  } else {
    const batch_normalization_backward::primitive_desc pd(
        batch_normalization_backward::desc(prop_kind::backward, data_md, data_md, eps, affine), eng,
        train_pd);
    prim = batch_normalization_backward(pd);
    // DNNL_ARG_SHIFT is not read by the backward pass but 2.6 refuses to run with use_shift without it.
    args = {{DNNL_ARG_SRC, src},
            {DNNL_ARG_DIFF_DST, diff_dst},
            {DNNL_ARG_SCALE, scale},
            {DNNL_ARG_SHIFT, shift},
            {DNNL_ARG_MEAN, mean},
            {DNNL_ARG_VARIANCE, variance},
            {DNNL_ARG_DIFF_SRC, diff_src},
            {DNNL_ARG_DIFF_SCALE, diff_scale},
            {DNNL_ARG_DIFF_SHIFT, diff_shift}};
  }
  for (auto _ : state) {
    prim.execute(strm, args);
    strm.wait();
    benchmark::ClobberMemory();
  }
  set_counters(state, op, s);
}
#endif

// ---------------------------------------------------------------------------------------------
// Registration and the summary table.

struct Row {
  std::string op, shape, side;
};

Row parse_name(const std::string& name) {
  // "bn/<op>/<shape>/<side>", possibly followed by "/real_time" and the like.
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t slash = name.find('/', start);
    parts.push_back(name.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (parts.size() < 4 || parts[0] != "bn") return {};
  return {parts[1], parts[2], parts[3]};
}

/// Console output as usual; median times are also collected and printed as a table of ratios at the end.
class TableReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      const bool single = run.run_type == Run::RT_Iteration && run.repetitions <= 1;
      if (!median && !single) continue;
      const Row r = parse_name(run.run_name.function_name);
      if (r.op.empty()) continue;
      times_[r.op + "|" + r.shape][r.side] = run.GetAdjustedRealTime();  // in run.time_unit (us)
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf(
        "\n## Batch norm, float32, %d thread(s): median time (us), GB/s under the traffic model, fraction of "
        "copy "
        "bandwidth, and hnn's speedup (other side's time / hnn's time)\n",
        g_threads);
    std::printf("%s\n\n", kMallocNote);
    std::printf(
        "| op | shape | hnn us | hnn GB/s | hnn/copy | torch us | x torch | dnnl plain us | x dnnl plain | "
        "dnnl best us (layout) | x dnnl best |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (const Op op : {Op::train, Op::eval, Op::backward}) {
      for (const Shape& s : kShapes) {
        auto it = times_.find(std::string(op_name(op)) + "|" + s.name());
        if (it == times_.end()) continue;
        const auto& t = it->second;
        auto get = [&](const std::string& side) { return t.count(side) ? t.at(side) : NAN; };
        const auto copy_it = times_.find("copy|" + s.name());
        const double copy_us =
            copy_it != times_.end() && copy_it->second.count("memcpy") ? copy_it->second.at("memcpy") : NAN;
        const double hnn = get("hnn");
        const double gbps = traffic(op, s) / (hnn * 1e-6) / 1e9;
        const double copy_gbps = traffic(Op::copy, s) / (copy_us * 1e-6) / 1e9;
        const double plain = get("dnnl_nchw");
        std::string best_layout = "-";
        double best = NAN;
        for (const char* side : {"dnnl_nhwc", "dnnl_16c", "dnnl_8c"})
          if (t.count(side) && !(t.at(side) >= best)) {
            best = t.at(side);
            best_layout = side + 5;
          }
        std::printf("| %s | %s | %.1f | %.1f | %.2f | %.1f | %.2f | %.1f | %.2f | %.1f (%s) | %.2f |\n",
                    op_name(op), s.name().c_str(), hnn, gbps, gbps / copy_gbps, get("torch"),
                    get("torch") / hnn, plain, plain / hnn, best, best_layout.c_str(), best / hnn);
      }
    }
    std::printf("\n| shape | copy us | copy GB/s (2B) |\n|---|---|---|\n");
    for (const Shape& s : kShapes) {
      const auto it = times_.find("copy|" + s.name());
      if (it == times_.end() || !it->second.count("memcpy")) continue;
      const double us = it->second.at("memcpy");
      std::printf("| %s | %.1f | %.1f |\n", s.name().c_str(), us, traffic(Op::copy, s) / (us * 1e-6) / 1e9);
    }
    std::fflush(stdout);
  }

 private:
  std::map<std::string, std::map<std::string, double>> times_;
};

template <class F>
void add(const std::string& name, F&& f) {
  benchmark::RegisterBenchmark(name.c_str(), std::forward<F>(f))
      ->Unit(benchmark::kMicrosecond)
      ->UseRealTime();
}

void register_all() {
  for (const Shape& s : kShapes) {
    add("bn/copy/" + s.name() + "/memcpy", [s](benchmark::State& st) { bench_copy(st, s); });
    for (const Op op : {Op::train, Op::eval, Op::backward}) {
      const std::string prefix = std::string("bn/") + op_name(op) + "/" + s.name() + "/";
      add(prefix + "hnn", [s, op](benchmark::State& st) { bench_hnn(st, op, s); });
      if (!s.two_d()) add(prefix + "hnn_nhwc", [s, op](benchmark::State& st) { bench_hnn(st, op, s, true); });
#ifdef HNN_BENCH_WITH_TORCH
      add(prefix + "torch", [s, op](benchmark::State& st) { bench_torch(st, op, s); });
#endif
#ifdef HNN_BENCH_WITH_DNNL
      add(prefix + "dnnl_nchw", [s, op](benchmark::State& st) { bench_dnnl(st, op, s, DnnlLayout::nchw); });
      add(prefix + "dnnl_nhwc", [s, op](benchmark::State& st) { bench_dnnl(st, op, s, DnnlLayout::nhwc); });
      if (!s.two_d()) {
        add(prefix + "dnnl_16c",
            [s, op](benchmark::State& st) { bench_dnnl(st, op, s, DnnlLayout::blocked16); });
        add(prefix + "dnnl_8c",
            [s, op](benchmark::State& st) { bench_dnnl(st, op, s, DnnlLayout::blocked8); });
      }
#endif
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Same allocator behaviour for every side (see kMallocNote).
  // (M_MMAP_THRESHOLD cannot go above 32 MiB on 64-bit glibc; M_MMAP_MAX = 0 turns mmap off for all sizes.)
  if (mallopt(M_MMAP_MAX, 0) != 1 || mallopt(M_TRIM_THRESHOLD, INT_MAX) != 1) {
    std::fprintf(stderr, "mallopt failed\n");
    return 1;
  }
  if (const char* env = std::getenv("HNN_BENCH_THREADS")) g_threads = std::max(1, std::atoi(env));
#ifdef HNN_WITH_OPENMP
  omp_set_num_threads(g_threads);
#else
  g_threads = 1;
#endif
#ifdef HNN_BENCH_WITH_TORCH
  at::set_num_threads(g_threads);
#endif
  benchmark::AddCustomContext("threads", std::to_string(g_threads));
  benchmark::AddCustomContext("malloc", kMallocNote);
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  TableReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
