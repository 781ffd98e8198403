// The LeNet-BN memory soak shared by tests/soak/lenet_soak.cpp (the long run, a program) and
// tests/soak/lenet_soak_test.cpp (a short run in the suite): SGD steps on synthetic Fashion-MNIST-shaped
// data through a shuffling, prefetching DataLoader, with an eval batch at every report, sampling the
// resident set size (/proc/self/statm) and its peak (VmHWM in /proc/self/status). Linux only.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <functional>
#include <hnn/data/dataloader.hpp>
#include <hnn/data/tensor_dataset.hpp>
#include <hnn/nn/activation.hpp>
#include <hnn/nn/batch_norm.hpp>
#include <hnn/nn/conv.hpp>
#include <hnn/nn/flatten.hpp>
#include <hnn/nn/linear.hpp>
#include <hnn/nn/loss.hpp>
#include <hnn/nn/pooling.hpp>
#include <hnn/nn/sequential.hpp>
#include <hnn/optim/sgd.hpp>
#include <hnn/tensor.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "../support/lenet_bn.hpp"

namespace hnn::test {

/// Resident set size now, in bytes (second field of /proc/self/statm, in pages).
inline long current_rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  if (!(statm >> size >> resident)) throw std::runtime_error("cannot read /proc/self/statm");
  return resident * ::sysconf(_SC_PAGESIZE);
}

/// The largest resident set size so far, in bytes ("VmHWM: <n> kB" in /proc/self/status).
inline long peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string field;
  while (status >> field) {
    if (field == "VmHWM:") {
      long kib = 0;
      status >> kib;
      return kib * 1024;
    }
    status.ignore(1 << 16, '\n');
  }
  throw std::runtime_error("no VmHWM line in /proc/self/status");
}

struct SoakSample {
  int64_t step = 0;
  long rss_bytes = 0;       // current
  long peak_rss_bytes = 0;  // so far
  size_t cached_bytes = 0;  // held by hnn's CPU caching allocator
  double loss = 0;          // of this step's batch
  double eval_loss = 0;     // of one batch in eval mode under InferenceMode
};

struct SoakOptions {
  int64_t steps = 20'000;
  int64_t reference_step = 1'000;  // the peak RSS after this step is the baseline
  int64_t report_every = 1'000;
  int64_t batch_size = 32;
  int64_t samples = 2'048;
  uint64_t seed = 0;
};

struct SoakResult {
  std::vector<SoakSample> curve;  // every report_every steps, and at reference_step
  long reference_peak_bytes = 0;
  long final_peak_bytes = 0;
  /// The allowed growth of the peak after reference_step: 2 % of it, but at least 4 MiB (a few pages of
  /// heap bookkeeping must not fail a small process).
  long allowed_growth_bytes = 0;
  bool within_bound() const { return final_peak_bytes - reference_peak_bytes <= allowed_growth_bytes; }
};

/// Trains LeNet-BN for options.steps SGD steps and samples memory; on_sample (optional) sees each sample
/// as it is taken. Throws std::runtime_error if the loss stops being finite.
inline SoakResult run_lenet_soak(const SoakOptions& options,
                                 const std::function<void(const SoakSample&)>& on_sample = {}) {
  if (options.steps < options.reference_step || options.reference_step < 1 || options.report_every < 1)
    throw std::invalid_argument(
        "run_lenet_soak: expected 1 <= reference_step <= steps and report_every >= 1, got steps=" +
        std::to_string(options.steps) + " reference_step=" + std::to_string(options.reference_step) +
        " report_every=" + std::to_string(options.report_every));
  hnn::manual_seed(options.seed);
  hnn::Generator gen(options.seed + 1);
  // Ten class prototypes plus noise: learnable, so the loss going down shows the steps really train.
  auto prototypes = hnn::rand<float>({10, 1, 28, 28}, gen);
  auto labels = hnn::randint<int64_t>(0, 10, {options.samples}, gen);
  auto images = hnn::empty<float>({options.samples, 1, 28, 28});
  auto noise = hnn::randn<float>({options.samples, 1, 28, 28}, gen);
  for (int64_t i = 0; i < options.samples; ++i)
    images.select(0, i).copy_(prototypes.select(0, labels.select(0, i).item()) + noise.select(0, i) * 0.5f);
  hnn::data::TensorDataset<float, int64_t> dataset(images, labels);
  hnn::data::DataLoader loader(dataset, hnn::data::DataLoaderOptions()
                                            .batch_size(options.batch_size)
                                            .shuffle(true)
                                            .drop_last(true)
                                            .seed(options.seed)
                                            .prefetch(1));
  auto eval_batch = dataset.get_batch(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});

  auto model = hnn_test::lenet_bn();
  hnn::optim::SGD optimizer(model.parameters(), hnn::optim::SGDOptions(0.05).momentum(0.9));
  nn::CrossEntropyLoss criterion;

  SoakResult result;
  auto sample = [&](int64_t step, double loss) {
    SoakSample s;
    s.step = step;
    s.loss = loss;
    model.eval();
    {
      hnn::InferenceMode inference;
      s.eval_loss = criterion(model(eval_batch.data), eval_batch.target).item();
    }
    model.train();
    s.rss_bytes = current_rss_bytes();
    s.peak_rss_bytes = peak_rss_bytes();
    s.cached_bytes = hnn::CpuCachingAllocator::instance().cached_bytes();
    result.curve.push_back(s);
    if (on_sample) on_sample(s);
    return s;
  };

  int64_t step = 0;
  while (step < options.steps) {
    for (const auto& batch : loader) {
      optimizer.zero_grad();
      auto loss = criterion(model(batch.data), batch.target);
      loss.backward();
      optimizer.step();
      ++step;
      const double value = loss.item();
      if (!std::isfinite(value))
        throw std::runtime_error("run_lenet_soak: loss " + std::to_string(value) + " at step " +
                                 std::to_string(step));
      if (step == options.reference_step)
        result.reference_peak_bytes = sample(step, value).peak_rss_bytes;
      else if (step % options.report_every == 0 || step == options.steps)
        sample(step, value);
      if (step == options.steps) break;
    }
  }
  result.final_peak_bytes = peak_rss_bytes();
  result.allowed_growth_bytes = std::max(result.reference_peak_bytes / 50, 4L * 1024 * 1024);
  return result;
}

}  // namespace hnn::test
