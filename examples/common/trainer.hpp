// What the example trainers (lenet, mlp, tabular) share: the common command-line flags, a train-one-epoch
// and an evaluate loop with a progress bar and per-epoch timing, the per-run outputs (metrics CSV, SVG
// curves, best checkpoint) and the closing summary lines. Depends on <hnn/hnn.hpp> and CLI11.
#pragma once

#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <hnn/hnn.hpp>
#include <numeric>
#include <string>
#include <vector>

namespace examples {

/// Flags every trainer has; each trainer fills in its own defaults before parsing.
struct CommonOptions {
  int epochs = 10;
  int64_t batch_size = 256;
  double lr = 0.1;
  uint64_t seed = 0;
  std::string data = "/usr/share/datasets/fashion-mnist";
  int threads = 2;
  int64_t limit_train = 0;  // 0 = the whole set; the test suite trains on 512 samples
  int64_t limit_test = 0;
  std::string out = "";     // folder for metrics.csv, curves.svg and best.safetensors; "" = <name>-run
  bool quiet = false;       // no progress bar (the per-epoch lines stay)
  bool no_checkpoint = false;
};

inline void add_common_options(CLI::App& app, CommonOptions& o) {
  app.add_option("--epochs", o.epochs, "Training epochs")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--batch-size", o.batch_size, "Samples per training batch")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--lr", o.lr, "Learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--seed", o.seed, "Seed of hnn's default generator (initialisation, shuffling, dropout)")
      ->capture_default_str();
  app.add_option("--data", o.data, "Folder with the data set's files")->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads (OpenMP)")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--limit-train", o.limit_train, "Train on the first N samples only (0 = all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--limit-test", o.limit_test, "Evaluate on the first N test samples only (0 = all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--out", o.out, "Output folder for metrics.csv, curves.svg and the best checkpoint");
  app.add_flag("--quiet", o.quiet, "No progress bar");
  app.add_flag("--no-checkpoint", o.no_checkpoint, "Do not save the best checkpoint");
}

/// The first `limit` samples of `dataset` (all of them when limit is 0 or too large).
template <class DS>
auto first_samples(DS& dataset, int64_t limit) {
  const int64_t n = limit > 0 ? std::min<int64_t>(limit, dataset.size()) : dataset.size();
  std::vector<int64_t> indices(static_cast<size_t>(n));
  std::iota(indices.begin(), indices.end(), int64_t(0));
  return hnn::data::Subset(dataset, std::move(indices));
}

inline double peak_rss_mb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

struct EpochStats {
  double loss = 0;      // mean over batches of the batch loss
  double accuracy = 0;  // NaN for regression
  double seconds = 0;   // wall time of the loop (prefetching loader included)
  int64_t samples = 0;
};

/// One epoch of training: zero_grad, forward, loss, backward, step for every batch. `loss_of(output,
/// batch)` returns the loss tensor; `correct_of(output, batch)` the number of correct predictions (or
/// -1 when accuracy does not apply).
template <class Model, class Loader, class Optimizer, class LossOf, class CorrectOf>
EpochStats train_epoch(Model& model, Loader& loader, Optimizer& optimizer, LossOf loss_of, CorrectOf correct_of,
                       const std::string& label, bool quiet) {
  model.train();
  hnn::utils::ProgressBar bar(loader.size(), label, !quiet && !label.empty());
  EpochStats stats;
  double loss_sum = 0;
  int64_t batches = 0, correct = 0;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& batch : loader) {
    optimizer.zero_grad();
    auto output = model(batch.data);
    auto loss = loss_of(output, batch);
    loss.backward();
    optimizer.step();
    const double value = static_cast<double>(loss.item());
    loss_sum += value;
    ++batches;
    stats.samples += batch.data.size(0);
    const int64_t c = correct_of(output, batch);
    correct = c < 0 || correct < 0 ? -1 : correct + c;
    bar.set_postfix("loss", loss_sum / static_cast<double>(batches));
    bar.update(1);
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  bar.close();
  stats.loss = batches ? loss_sum / static_cast<double>(batches) : 0.0;
  stats.accuracy = correct < 0 || stats.samples == 0 ? std::nan("")
                                                     : static_cast<double>(correct) / static_cast<double>(stats.samples);
  return stats;
}

/// Loss and accuracy over a loader in eval mode, without recording a graph.
template <class Model, class Loader, class LossOf, class CorrectOf>
EpochStats evaluate(Model& model, Loader& loader, LossOf loss_of, CorrectOf correct_of) {
  model.eval();
  hnn::NoGradGuard no_grad;
  EpochStats stats;
  double loss_sum = 0;
  int64_t correct = 0;
  const auto start = std::chrono::steady_clock::now();
  for (const auto& batch : loader) {
    auto output = model(batch.data);
    const int64_t n = batch.data.size(0);
    loss_sum += static_cast<double>(loss_of(output, batch).item()) * static_cast<double>(n);
    const int64_t c = correct_of(output, batch);
    correct = c < 0 || correct < 0 ? -1 : correct + c;
    stats.samples += n;
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  stats.loss = stats.samples ? loss_sum / static_cast<double>(stats.samples) : 0.0;
  stats.accuracy = correct < 0 || stats.samples == 0 ? std::nan("")
                                                     : static_cast<double>(correct) / static_cast<double>(stats.samples);
  return stats;
}

/// Correct class predictions of logits (B, K) against class-index targets (B).
template <class Batch, class Out>
int64_t count_correct(const Out& logits, const Batch& batch) {
  const auto predicted = logits.argmax(1).to_vector();
  const auto target = batch.target.to_vector();
  int64_t correct = 0;
  for (size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == target[i];
  return correct;
}

/// One-hot float targets (B, K) from class indices (B), as the seed MLP feeds CrossEntropyLoss.
template <class T = float>
hnn::Tensor<T> one_hot(const hnn::Tensor<int64_t>& labels, int64_t classes) {
  auto out = hnn::zeros<T>({labels.size(0), classes});
  const auto values = labels.to_vector();
  T* p = out.data();
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] < 0 || values[i] >= classes)
      throw std::invalid_argument("one_hot: label " + std::to_string(values[i]) + " at position " +
                                  std::to_string(i) + " is outside [0, " + std::to_string(classes) + ")");
    p[static_cast<int64_t>(i) * classes + values[i]] = T(1);
  }
  return out;
}

/// The output folder of a run (created), `default_name` when --out was not given.
inline std::filesystem::path output_dir(const CommonOptions& o, const std::string& default_name) {
  std::filesystem::path dir = o.out.empty() ? std::filesystem::path(default_name) : std::filesystem::path(o.out);
  std::filesystem::create_directories(dir);
  return dir;
}

/// Per-run outputs: metrics.csv (one row per epoch), curves.svg (loss and accuracy curves) and the best
/// checkpoint (model + optimiser + metadata, by evaluation accuracy or, with best_by_loss, by loss).
class RunRecorder {
 public:
  RunRecorder(std::filesystem::path dir, bool checkpoint, bool best_by_loss = false, std::string eval_name = "test")
      : dir_(std::move(dir)),
        checkpoint_(checkpoint),
        best_by_loss_(best_by_loss),
        eval_name_(std::move(eval_name)),
        logger_((dir_ / "metrics.csv").string(), {"epoch", "train_loss", "train_acc", eval_name_ + "_loss",
                                                  eval_name_ + "_acc", "lr", "seconds"}) {}

  template <class Model, class Optimizer>
  void record(int epoch, const EpochStats& train, const EpochStats& eval, double lr, const Model& model,
              const Optimizer& optimizer) {
    logger_.log(std::vector<double>{static_cast<double>(epoch), train.loss, train.accuracy, eval.loss, eval.accuracy,
                                    lr, train.seconds});
    epochs_.push_back(epoch);
    train_loss_.push_back(train.loss);
    eval_loss_.push_back(eval.loss);
    train_acc_.push_back(train.accuracy);
    eval_acc_.push_back(eval.accuracy);
    info_.lr_history.push_back(lr);
    const double score = best_by_loss_ ? eval.loss : -eval.accuracy;
    if (checkpoint_ && score < best_score_) {
      best_score_ = score;
      info_.epoch = epoch;
      info_.best_loss = eval.loss;
      info_.extra["best_" + eval_name_ + "_acc"] = eval.accuracy;
      hnn::save_checkpoint((dir_ / "best.safetensors").string(), model, optimizer, info_);
    }
  }

  /// Draws the curves and says where everything went.
  void finish(const std::string& title) {
    using hnn::utils::PlotPanel;
    using hnn::utils::PlotSeries;
    PlotPanel loss{title + ": loss", "epoch", "loss", {}, {}};
    loss.series.push_back(PlotSeries{"train", train_loss_, epochs_, "", false});
    loss.series.push_back(PlotSeries{eval_name_, eval_loss_, epochs_, "", true});
    PlotPanel acc{title + ": accuracy", "epoch", "accuracy", {}, {}};
    acc.series.push_back(PlotSeries{"train", train_acc_, epochs_, "", false});
    acc.series.push_back(PlotSeries{eval_name_, eval_acc_, epochs_, "", true});
    hnn::utils::write_svg((dir_ / "curves.svg").string(), {loss, acc});
    std::printf("wrote %s, %s", (dir_ / "metrics.csv").c_str(), (dir_ / "curves.svg").c_str());
    if (checkpoint_ && info_.epoch > 0)
      std::printf(" and %s (epoch %lld)", (dir_ / "best.safetensors").c_str(), static_cast<long long>(info_.epoch));
    std::printf("\n");
  }

 private:
  std::filesystem::path dir_;
  bool checkpoint_, best_by_loss_;
  std::string eval_name_;
  hnn::utils::MetricsLogger logger_;
  hnn::CheckpointInfo info_;
  double best_score_ = std::numeric_limits<double>::infinity();
  std::vector<double> epochs_, train_loss_, eval_loss_, train_acc_, eval_acc_;
};

/// The closing lines every trainer prints: the speed summary scripts/compare_trainers.sh reads, then
/// `test_acc=0.XXXX` as the very last line.
inline void print_summary(const std::vector<double>& samples_per_s, double test_acc) {
  std::printf("median_samples_per_s=%.0f peak_rss_mb=%.1f test_acc=%.4f\n", median(samples_per_s), peak_rss_mb(),
              test_acc);
  std::printf("test_acc=%.4f\n", test_acc);
  std::fflush(stdout);
}

}  // namespace examples
