// A multilayer perceptron with batch normalization, the seed tutorial's recipe: 784->256, ReLU,
// BatchNorm1d(256), ->10 (or the same with Dropout(0.25) in place of batch norm, or neither), Adam 1e-3,
// batch 64, cross entropy on one-hot targets, ReduceLROnPlateau(patience 5) on the validation loss, the
// best checkpoint (by validation loss) saved, per-epoch time. Fashion-MNIST by default; any MNIST-format
// folder with --data, or CIFAR-10's binary batches (3072 inputs, two batch-normed hidden layers 64 and 32).
//
//   mlp [--norm bn|dropout|none] [--epochs 5] [--batch-size 64] [--lr 1e-3] [--data DIR] [--threads 2]
//   mpirun -np 2 mlp --threads 1     data-parallel on 2 ranks (see common/distributed.hpp)
//
// Ends with `test_acc=0.XXXX` (accuracy on the test set of the final model).
#include <filesystem>
#include <optional>

#include "common/distributed.hpp"
#include "common/trainer.hpp"

namespace nn = hnn::nn;

namespace {

nn::Sequential<float> make_mlp(int64_t inputs, const std::vector<int64_t>& hidden, const std::string& norm) {
  nn::Sequential<float> net;
  net.push_back(nn::Flatten());
  int64_t width = inputs;
  for (int64_t h : hidden) {
    net.push_back(nn::Linear(width, h));
    net.push_back(nn::ReLU());
    if (norm == "bn") net.push_back(nn::BatchNorm1d(h));
    if (norm == "dropout") net.push_back(nn::Dropout(0.25));
    width = h;
  }
  net.push_back(nn::Linear(width, 10));
  return net;
}

bool is_cifar10(const std::filesystem::path& dir) {
  return std::filesystem::exists(dir / "data_batch_1.bin") ||
         std::filesystem::exists(dir / "cifar-10-batches-bin" / "data_batch_1.bin");
}

template <class DS>
int run(DS& train_full, DS& test_full, const examples::CommonOptions& o, const examples::World& world,
        const std::string& norm, double val_fraction, int64_t inputs, const std::vector<int64_t>& hidden,
        const std::string& title) {
  // Validation split for the scheduler and the checkpoint; the test set is only reported.
  auto train_all = examples::first_samples(train_full, o.limit_train);
  const auto n_val = static_cast<int64_t>(std::llround(val_fraction * static_cast<double>(train_all.size())));
  hnn::Generator split_gen(o.seed + 1);
  auto parts = hnn::data::random_split(train_all, {train_all.size() - n_val, n_val}, split_gen);
  auto test_all = examples::first_samples(test_full, o.limit_test);
  auto val_part = world.shard(parts[1]);
  auto test_part = world.shard(test_all);
  examples::TrainLoader train(parts[0], world, o.batch_size, o.seed);
  hnn::data::DataLoader val_loader(val_part, hnn::data::DataLoaderOptions().batch_size(1000));
  hnn::data::DataLoader test_loader(test_part, hnn::data::DataLoaderOptions().batch_size(1000));

  auto net = make_mlp(inputs, hidden, norm);
  examples::DataParallel model(net, world, !o.no_sync_bn);
  const bool main_rank = world.is_main();
  if (main_rank) {
    std::printf("MLP (%s) on %s: %lld training, %lld validation and %lld test samples, %d threads",
                norm.c_str(), o.data.c_str(), static_cast<long long>(parts[0].size()),
                static_cast<long long>(parts[1].size()), static_cast<long long>(test_all.size()), o.threads);
    if (world.distributed())
      std::printf(" per rank, %d ranks (batch %lld per rank)", world.size(),
                  static_cast<long long>(o.batch_size / world.size()));
    std::printf("\n");
    if (!o.quiet) std::cout << net << "\n";
  }

  hnn::optim::Adam optimizer(net.parameters(), hnn::optim::AdamOptions(o.lr));
  auto monitor = main_rank ? examples::make_monitor(net, o) : nullptr;  // --monitor
  hnn::optim::ReduceLROnPlateau scheduler(optimizer, hnn::optim::ReduceLROnPlateauOptions().patience(5));
  nn::CrossEntropyLoss criterion;
  // The seed feeds one-hot targets; CrossEntropyLoss takes them as class probabilities.
  auto loss_of = [&](const hnn::Tensor<float>& out, const auto& batch) {
    return criterion(out, examples::one_hot<float>(batch.target, 10));
  };
  auto correct_of = [](const hnn::Tensor<float>& out, const auto& batch) {
    return examples::count_correct(out, batch);
  };

  // Rank 0 alone writes the run's files; every rank sees the same (all-reduced) validation loss, so the
  // scheduler takes the same steps everywhere.
  std::optional<examples::RunRecorder> recorder;
  if (main_rank)
    recorder.emplace(examples::output_dir(o, "mlp-" + norm + "-run"), !o.no_checkpoint, /*best_by_loss=*/true,
                     "val");
  std::vector<double> rates;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    const std::string label = "epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs);
    train.start_epoch(epoch);
    auto stats = world.reduce(examples::train_epoch(model, train.loader(), optimizer, loss_of, correct_of,
                                                    label, o.quiet || !main_rank, [&] {
                                                      if (monitor) monitor->step();
                                                    }));
    auto val = world.reduce(examples::evaluate(model, val_loader, loss_of, correct_of));
    const double lr = optimizer.lr();
    scheduler.step(val.loss);
    rates.push_back(static_cast<double>(stats.samples) / stats.seconds);
    if (!main_rank) continue;
    std::printf(
        "epoch %2d/%d  loss %.4f  train_acc %.4f  val_loss %.4f  val_acc %.4f  lr %.2g  time %.2fs  (%.0f "
        "samples/s)\n",
        epoch, o.epochs, stats.loss, stats.accuracy, val.loss, val.accuracy, lr, stats.seconds, rates.back());
    std::fflush(stdout);
    recorder->record(epoch, stats, val, lr, net, optimizer);
  }
  if (main_rank) recorder->finish(title);
  if (main_rank) examples::write_activations(monitor.get(), recorder->dir(), title + ": activations");
  monitor.reset();
  auto test = world.reduce(examples::evaluate(model, test_loader, loss_of, correct_of));
  if (main_rank) {
    std::printf("test_loss %.4f  test_acc %.4f\n", test.loss, test.accuracy);
    examples::print_summary(rates, test.accuracy);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{"Train an MLP with batch normalization (or dropout) on Fashion-MNIST, MNIST or CIFAR-10"};
  examples::CommonOptions o;
  o.epochs = 5;
  o.batch_size = 64;
  o.lr = 1e-3;
  std::string norm = "bn";
  double val_fraction = 0.1;
  examples::add_common_options(app, o);
  examples::add_monitor_options(app, o);
  examples::add_distributed_options(app, o);
  app.add_option("--norm", norm, "Normalisation after the hidden ReLU")
      ->capture_default_str()
      ->check(CLI::IsMember({"bn", "dropout", "none"}));
  app.add_option("--val-fraction", val_fraction, "Fraction of the training samples held out for validation")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 0.5));
  if (auto status = examples::parse_command_line(app, argc, argv, o, "mlp")) return *status;

  examples::World world(o.distributed);
  hnn::set_num_threads(o.threads);
  hnn::manual_seed(o.seed);
  if (is_cifar10(o.data)) {
    hnn::data::CIFAR10 train(o.data, true), test(o.data, false);
    return run(train, test, o, world, norm, val_fraction, 3072, {64, 32}, "MLP (" + norm + ") on CIFAR-10");
  }
  hnn::data::MNIST train(o.data, true), test(o.data, false);
  return run(train, test, o, world, norm, val_fraction, 784, {256}, "MLP (" + norm + ") on " + o.data);
} catch (const std::exception& e) {
  return examples::fail("mlp", e);
}
