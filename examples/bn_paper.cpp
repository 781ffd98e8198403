// Figure 1 of Ioffe & Szegedy, "Batch Normalization" (2015): three fully-connected hidden layers of 100
// sigmoid units and a 10-way linear output with cross entropy, weights from a small Gaussian, batches of
// 60, plain SGD; once as it is and once with batch norm before each sigmoid (the Linear then drops its
// bias, which batch norm's shift replaces). Both networks start from the same weights and see the same
// batches. Fashion-MNIST by default; MNIST (the paper's data) with --data.
//
//   bn_paper [--steps 5000] [--lr 0.5] [--init-std 0.1] [--batch-size 60] [--eval-every 100]
//            [--record-every 10] [--data DIR] [--limit-train N] [--limit-test N] [--out DIR] [--quiet]
//
// The paper trains 50 000 steps (--steps 50000, about 3 minutes on one core here); the default 5000
// (under half a minute) already shows the effect on Fashion-MNIST: without batch norm the distribution
// of the last sigmoid input drifts (median 0.04 -> -2.05, 15th percentile -0.44 -> -3.6), with it the
// median stays within 0.5 of 0 while the 15-85 band widens slowly (+-1.05 -> -2.0 .. 1.5), and the
// batch-norm network learns far faster early on. Writes to --out (default bn_paper-run):
//   figure1.svg   (a) test accuracy over steps for both networks; (b, c) the 15th, 50th and 85th
//                 percentiles of the last hidden layer's sigmoid input over steps, without and with BN
//   figure1.csv   the plotted numbers, tidy: step,network,quantity,value
//   activations_without_bn.csv, activations_with_bn.csv   every statistic hnn::utils::ActivationMonitor
//                 records (see its header), every --record-every steps
//   activations.svg   percentile bands of every sigmoid input, without | with batch norm
// and ends with `without_bn_test_acc=0.XXXX` and then `test_acc=0.XXXX` (the batch-norm network's).
#include <cstdio>
#include <fstream>
#include <memory>

#include "common/trainer.hpp"

namespace nn = hnn::nn;

namespace {

constexpr int64_t kHidden = 100;
constexpr int kHiddenLayers = 3;

nn::Sequential<float> make_network(bool batch_norm, double init_std, uint64_t seed) {
  nn::Sequential<float> net;
  net.push_back(nn::Flatten());
  int64_t width = 28 * 28;
  for (int layer = 0; layer < kHiddenLayers; ++layer) {
    net.push_back(nn::Linear(width, kHidden, /*bias=*/!batch_norm));
    if (batch_norm) net.push_back(nn::BatchNorm1d(kHidden));
    net.push_back(nn::Sigmoid());
    width = kHidden;
  }
  net.push_back(nn::Linear(width, 10));
  // The same generator for both networks: their Linear layers start from the same weights. Biases start
  // at zero; batch norm keeps gamma = 1, beta = 0.
  hnn::Generator gen(seed);
  for (size_t i = 0; i < net.size(); ++i)
    if (auto* linear = dynamic_cast<nn::Linear<float>*>(&net[i])) {
      nn::init::normal_(linear->weight(), 0.0, init_std, gen);
      if (linear->bias().defined()) nn::init::zeros_(linear->bias());
    }
  return net;
}

/// One network of the pair: the model, its optimiser and its monitor.
struct Run {
  std::string label;
  nn::Sequential<float> net;
  hnn::optim::SGD<float> optimizer;
  std::unique_ptr<hnn::utils::ActivationMonitor<float>> monitor;
  std::vector<double> eval_steps, test_acc;

  Run(std::string name, nn::Sequential<float> model, double lr, int64_t record_every)
      : label(std::move(name)),
        net(std::move(model)),
        optimizer(net.parameters(), hnn::optim::SGDOptions(lr)) {
    monitor = std::make_unique<hnn::utils::ActivationMonitor<float>>(
        net, hnn::utils::ActivationMonitorOptions().every(record_every).percentiles({1, 15, 50, 85, 99}));
  }
  /// The monitored input of the last hidden sigmoid.
  const hnn::utils::MonitoredSeries& last_sigmoid_input() const {
    const hnn::utils::MonitoredSeries* last = nullptr;
    for (const auto& s : monitor->points())
      if (s.kind == hnn::utils::MonitoredKind::sigmoid) last = &s;
    return *last;
  }
};

/// Column `i` of the recorded percentiles (1, 15, 50, 85, 99) of a series.
std::vector<double> percentile_column(const hnn::utils::MonitoredSeries& s, size_t i) {
  std::vector<double> out;
  for (const auto& r : s.history) out.push_back(r.percentiles[i]);
  return out;
}

std::vector<double> steps_of(const hnn::utils::MonitoredSeries& s) {
  std::vector<double> out;
  for (const auto& r : s.history) out.push_back(static_cast<double>(r.step));
  return out;
}

hnn::utils::PlotPanel percentile_panel(const Run& run, const std::string& title) {
  const auto& s = run.last_sigmoid_input();
  const auto x = steps_of(s);
  hnn::utils::PlotPanel panel{title, "step", "input of the last hidden sigmoid", {}, {}};
  panel.bands.push_back(
      hnn::utils::PlotBand{"", percentile_column(s, 1), percentile_column(s, 3), x, "#1f77b4", 0.12});
  panel.series.push_back(hnn::utils::PlotSeries{"85th", percentile_column(s, 3), x, "#d62728", false});
  panel.series.push_back(hnn::utils::PlotSeries{"50th", percentile_column(s, 2), x, "#1f77b4", false});
  panel.series.push_back(hnn::utils::PlotSeries{"15th", percentile_column(s, 1), x, "#2ca02c", false});
  return panel;
}

void write_figure(const std::filesystem::path& dir, const Run& plain, const Run& normed,
                  const std::string& data) {
  hnn::utils::PlotPanel accuracy{"(a) test accuracy", "step", "test accuracy", {}, {}};
  accuracy.series.push_back(
      hnn::utils::PlotSeries{"without BN", plain.test_acc, plain.eval_steps, "#7f7f7f", true});
  accuracy.series.push_back(
      hnn::utils::PlotSeries{"with BN", normed.test_acc, normed.eval_steps, "#1f77b4", false});
  hnn::utils::PlotOptions options;
  options.title = "Ioffe & Szegedy (2015), Figure 1, on " + data;
  hnn::utils::write_svg(
      (dir / "figure1.svg").string(),
      {accuracy, percentile_panel(plain, "(b) without BN"), percentile_panel(normed, "(c) with BN")},
      options);

  std::ofstream csv(dir / "figure1.csv");
  csv << "step,network,quantity,value\n";
  for (const Run* run : {&plain, &normed}) {
    for (size_t i = 0; i < run->eval_steps.size(); ++i)
      csv << run->eval_steps[i] << ',' << run->label << ",test_acc," << run->test_acc[i] << '\n';
    const auto& s = run->last_sigmoid_input();
    const char* names[] = {"p15", "p50", "p85"};
    for (const auto& r : s.history)
      for (size_t q = 0; q < 3; ++q)
        csv << r.step << ',' << run->label << ',' << names[q] << ',' << r.percentiles[q + 1] << '\n';
  }
  HNN_CHECK_RUNTIME(csv.good(), "bn_paper: writing ", (dir / "figure1.csv").string(), " failed");
}

/// The 15/50/85th percentiles of the last sigmoid input at a few recorded steps, side by side.
void print_percentiles(const Run& plain, const Run& normed) {
  const auto& a = plain.last_sigmoid_input();
  const auto& b = normed.last_sigmoid_input();
  std::printf("last hidden sigmoid input, 15th / 50th / 85th percentiles:\n%8s  %-26s  %-26s\n", "step",
              "without BN", "with BN");
  const size_t n = std::min(a.history.size(), b.history.size());
  for (size_t k = 0; k < 6 && n > 0; ++k) {
    const size_t i = k * (n - 1) / 5;
    const auto& pa = a.history[i].percentiles;
    const auto& pb = b.history[i].percentiles;
    std::printf("%8lld  %7.3f %7.3f %7.3f     %7.3f %7.3f %7.3f\n", static_cast<long long>(a.history[i].step),
                pa[1], pa[2], pa[3], pb[1], pb[2], pb[3]);
  }
}

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{"Ioffe & Szegedy's Figure 1: a 3x100 sigmoid MLP with and without batch norm"};
  examples::CommonOptions o;
  o.batch_size = 60;
  o.lr = 0.5;
  o.threads = 1;
  int64_t steps = 5000, eval_every = 100, record_every = 10;
  double init_std = 0.1;
  examples::add_common_options(app, o);
  // Common flags that do not apply: this run counts steps, keeps no checkpoint, always monitors, runs on one
  // process.
  for (const char* unused :
       {"--epochs", "--no-checkpoint", "--monitor", "--monitor-every", "--distributed", "--no-sync-bn"})
    if (auto* option = app.get_option_no_throw(unused)) app.remove_option(option);
  app.get_option("--out")->description(
      "Output folder for figure1.svg/.csv and the activation statistics "
      "(default bn_paper-run)");
  app.get_option("--quiet")->description("Print only the summary, not the accuracy every --eval-every steps");
  app.add_option("--steps", steps, "Training steps (the paper: 50000)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--eval-every", eval_every, "Evaluate test accuracy every N steps")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--record-every", record_every, "Record activation statistics every N steps")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--init-std", init_std, "Standard deviation of the Gaussian initial weights")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  if (auto status = examples::parse_command_line(app, argc, argv, o, "bn_paper")) return *status;

  hnn::set_num_threads(o.threads);
  hnn::manual_seed(o.seed);
  hnn::data::MNIST train_set(o.data, /*train=*/true), test_set(o.data, /*train=*/false);
  auto train_part = examples::first_samples(train_set, o.limit_train);
  auto test_part = examples::first_samples(test_set, o.limit_test);
  hnn::data::DataLoader train_loader(
      train_part,
      hnn::data::DataLoaderOptions().batch_size(o.batch_size).shuffle(true).drop_last(true).seed(o.seed));
  hnn::data::DataLoader test_loader(test_part, hnn::data::DataLoaderOptions().batch_size(1000));
  std::printf(
      "3x%lld sigmoid MLP with and without batch norm on %s: %lld training and %lld test samples, "
      "%lld steps of %lld, SGD lr %g, weights N(0, %g^2)\n",
      static_cast<long long>(kHidden), o.data.c_str(), static_cast<long long>(train_part.size()),
      static_cast<long long>(test_part.size()), static_cast<long long>(steps),
      static_cast<long long>(o.batch_size), o.lr, init_std);

  Run plain("without_bn", make_network(false, init_std, o.seed + 1), o.lr, record_every);
  Run normed("with_bn", make_network(true, init_std, o.seed + 1), o.lr, record_every);
  if (!o.quiet) std::cout << normed.net << "\n";
  nn::CrossEntropyLoss criterion;
  auto loss_of = [&](const hnn::Tensor<float>& out, const auto& batch) {
    return criterion(out, batch.target);
  };
  auto correct_of = [](const hnn::Tensor<float>& out, const auto& batch) {
    return examples::count_correct(out, batch);
  };

  auto evaluate = [&](int64_t step) {
    for (Run* run : {&plain, &normed}) {
      hnn::InferenceMode inference;
      auto test = examples::evaluate(run->net, test_loader, loss_of, correct_of);
      run->net.train();
      run->eval_steps.push_back(static_cast<double>(step));
      run->test_acc.push_back(test.accuracy);
    }
    if (!o.quiet)
      std::printf("step %6lld  test_acc without BN %.4f  with BN %.4f\n", static_cast<long long>(step),
                  plain.test_acc.back(), normed.test_acc.back());
    std::fflush(stdout);
  };

  hnn::utils::Stopwatch watch;
  evaluate(0);
  int64_t step = 0;
  double loss_sum[2] = {0, 0};
  while (step < steps) {
    for (const auto& batch : train_loader) {
      int which = 0;
      for (Run* run : {&plain, &normed}) {
        run->optimizer.zero_grad();
        auto loss = loss_of(run->net(batch.data), batch);
        loss.backward();
        run->optimizer.step();
        run->monitor->step();
        loss_sum[which++] += static_cast<double>(loss.item());
      }
      ++step;
      if (step % eval_every == 0 || step == steps) {
        evaluate(step);
        if (!o.quiet)
          std::printf("               train loss   without BN %.4f  with BN %.4f\n", loss_sum[0] / eval_every,
                      loss_sum[1] / eval_every);
        loss_sum[0] = loss_sum[1] = 0;
      }
      if (step >= steps) break;
    }
  }
  const double seconds = watch.seconds();
  std::printf("%lld steps of both networks in %.1fs (%.2f ms per step pair)\n", static_cast<long long>(steps),
              seconds, 1e3 * seconds / static_cast<double>(steps));

  const auto dir = examples::output_dir(o, "bn_paper-run");
  auto data_name = std::filesystem::path(o.data).lexically_normal();
  if (data_name.filename().empty()) data_name = data_name.parent_path();  // "dir/" names "dir"
  write_figure(dir, plain, normed, data_name.filename().string());
  plain.monitor->write_csv((dir / "activations_without_bn.csv").string());
  normed.monitor->write_csv((dir / "activations_with_bn.csv").string());
  hnn::utils::write_comparison_svg((dir / "activations.svg").string(), *plain.monitor, "without BN",
                                   *normed.monitor, "with BN",
                                   "Sigmoid inputs: percentiles 1-99, 15-85 and the median");
  std::printf("wrote %s, %s, %s, %s and %s\n", (dir / "figure1.svg").c_str(), (dir / "figure1.csv").c_str(),
              (dir / "activations_without_bn.csv").c_str(), (dir / "activations_with_bn.csv").c_str(),
              (dir / "activations.svg").c_str());
  print_percentiles(plain, normed);
  std::printf("without_bn_test_acc=%.4f\n", plain.test_acc.back());
  std::printf("test_acc=%.4f\n", normed.test_acc.back());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bn_paper: %s\n", e.what());
  return 1;
}
