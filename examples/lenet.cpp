// LeNet-5 with batch normalization on Fashion-MNIST, the textbook recipe (Dive into Deep Learning,
// "Batch Normalization"): Conv 1->6 k5, BN, Sigmoid, AvgPool 2; Conv 6->16 k5, BN, Sigmoid, AvgPool 2;
// Linear 256->120, BN, Sigmoid; 120->84, BN, Sigmoid; 84->10. Xavier-uniform weights, SGD lr 0.9,
// batch 256, 10 epochs, cross entropy. `--no-bn` trains the same network without batch norm (it needs a
// smaller learning rate, e.g. --lr 0.1, and learns far slower: the comparison the chapter makes).
//
//   lenet [--epochs 10] [--batch-size 256] [--lr 0.9] [--seed 0] [--data DIR] [--threads 2] [--no-bn]
//   mpirun -np 2 lenet --threads 1     data-parallel on 2 ranks (see common/distributed.hpp)
//
// Prints one line per epoch (loss, train and test accuracy, time), writes metrics.csv, curves.svg and
// the best checkpoint (by test accuracy) to --out. After training it recomputes the batch-norm statistics
// for the final weights (--precise-bn, see hnn/nn/utils/precise_bn.hpp; 0 turns it off) and ends with
// `test_acc=0.XXXX`.
#include <optional>

#include "common/distributed.hpp"
#include "common/models.hpp"
#include "common/trainer.hpp"

namespace nn = hnn::nn;

int main(int argc, char** argv) try {
  CLI::App app{"Train LeNet-5 with batch normalization on Fashion-MNIST (or MNIST)"};
  examples::CommonOptions o;
  o.epochs = 10;
  o.batch_size = 256;
  o.lr = 0.9;
  bool no_bn = false;
  int64_t precise_bn = 20;
  examples::add_common_options(app, o);
  examples::add_monitor_options(app, o);
  examples::add_distributed_options(app, o);
  app.add_flag("--no-bn", no_bn, "Train LeNet without batch normalization");
  app.add_option(
         "--precise-bn", precise_bn,
         "After training, recompute the batch-norm running statistics over this many training batches "
         "(0 = keep the running averages from training, exactly PyTorch's recipe)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  if (auto status = examples::parse_command_line(app, argc, argv, o, "lenet")) return *status;

  examples::World world(o.distributed);
  hnn::set_num_threads(o.threads);
  hnn::manual_seed(o.seed);
  hnn::data::MNIST train_set(o.data, /*train=*/true), test_set(o.data, /*train=*/false);
  auto train_part = examples::first_samples(train_set, o.limit_train);
  auto test_all = examples::first_samples(test_set, o.limit_test);
  auto test_part = world.shard(test_all);
  // A LeNet step takes far longer than gathering its batch, so each loader's worker thread assembles the
  // next batch meanwhile (the loader's default assembles it on this thread, between steps). On 2 vCPUs
  // with 2 OpenMP threads this is within noise of the default (benchmarks/README.md, "DataLoader").
  const int64_t prefetch = 1;
  examples::TrainLoader train(train_part, world, o.batch_size, o.seed, prefetch);
  hnn::data::DataLoader test_loader(test_part,
                                    hnn::data::DataLoaderOptions().batch_size(1000).prefetch(prefetch));

  auto net = examples::make_lenet(!no_bn);
  examples::DataParallel model(net, world, !o.no_sync_bn);
  const bool main_rank = world.is_main();
  if (main_rank) {
    std::printf("%s LeNet on %s: %lld training and %lld test samples, %d threads",
                no_bn ? "plain" : "batch-norm", o.data.c_str(), static_cast<long long>(train_part.size()),
                static_cast<long long>(test_all.size()), o.threads);
    if (world.distributed())
      std::printf(" per rank, %d ranks (batch %lld per rank, %s)", world.size(),
                  static_cast<long long>(o.batch_size / world.size()),
                  o.no_sync_bn ? "per-rank batch norm" : "SyncBatchNorm");
    std::printf("\n");
    if (!o.quiet) std::cout << net << "\n";
  }

  hnn::optim::SGD optimizer(net.parameters(), hnn::optim::SGDOptions(o.lr));
  auto monitor = main_rank ? examples::make_monitor(net, o) : nullptr;  // --monitor
  nn::CrossEntropyLoss criterion;
  auto loss_of = [&](const hnn::Tensor<float>& out, const auto& batch) {
    return criterion(out, batch.target);
  };
  auto correct_of = [](const hnn::Tensor<float>& out, const auto& batch) {
    return examples::count_correct(out, batch);
  };

  // Rank 0 alone writes the run's files.
  std::optional<examples::RunRecorder> recorder;
  if (main_rank)
    recorder.emplace(examples::output_dir(o, no_bn ? "lenet-nobn-run" : "lenet-run"), !o.no_checkpoint);
  std::vector<double> rates;
  double test_acc = 0;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    const std::string label = "epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs);
    train.start_epoch(epoch);
    auto stats = world.reduce(examples::train_epoch(model, train.loader(), optimizer, loss_of, correct_of,
                                                    label, o.quiet || !main_rank, [&] {
                                                      if (monitor) monitor->step();
                                                    }));
    auto test = world.reduce(examples::evaluate(model, test_loader, loss_of, correct_of));
    rates.push_back(static_cast<double>(stats.samples) / stats.seconds);
    test_acc = test.accuracy;
    if (!main_rank) continue;
    std::printf(
        "epoch %2d/%d  loss %.4f  train_acc %.4f  test_loss %.4f  test_acc %.4f  time %.2fs  (%.0f "
        "samples/s)\n",
        epoch, o.epochs, stats.loss, stats.accuracy, test.loss, test.accuracy, stats.seconds, rates.back());
    std::fflush(stdout);
    recorder->record(epoch, stats, test, optimizer.lr(), net, optimizer);
  }
  if (main_rank) recorder->finish("LeNet" + std::string(no_bn ? "" : "-BN") + " on Fashion-MNIST");
  if (main_rank)
    examples::write_activations(monitor.get(), recorder->dir(),
                                "LeNet" + std::string(no_bn ? "" : "-BN") + " activations");
  monitor.reset();
  if (!no_bn && precise_bn > 0) {
    // With SGD at lr 0.9 the weights outrun the running averages (momentum 0.1), so eval-mode accuracy
    // swings from epoch to epoch; recomputing the statistics for the final weights removes that lag.
    // (With SyncBatchNorm the recomputed statistics are the global batches'; with per-rank batch norm
    // every rank takes rank 0's.)
    const auto used = hnn::nn::utils::recalibrate_batch_norm(net, train.loader(), precise_bn);
    model.sync_buffers();
    auto test = world.reduce(examples::evaluate(model, test_loader, loss_of, correct_of));
    if (main_rank)
      std::printf(
          "batch-norm statistics recomputed over %lld training batches: test_loss %.4f  test_acc %.4f "
          "(was %.4f with the running averages)\n",
          static_cast<long long>(used), test.loss, test.accuracy, test_acc);
    test_acc = test.accuracy;
  }
  if (main_rank) examples::print_summary(rates, test_acc);
  return 0;
} catch (const std::exception& e) {
  return examples::fail("lenet", e);
}
