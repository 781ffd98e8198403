// From PyTorch to hnn and back: loads a LeNet-BN state dict that PyTorch saved with
// torch.save(model.state_dict(), "lenet_bn.pt") (tools/from_pytorch.py trains one), evaluates it on
// Fashion-MNIST, fine-tunes it here, and saves it again in PyTorch's own format, which
// torch.load(path, weights_only=True) and model.load_state_dict(..., strict=True) take back.
//
//   from_pytorch --weights lenet_bn.pt [--epochs 1] [--lr 0.1] [--save finetuned.pt] [--data DIR]
//
// The model must be the one the weights belong to (examples/common/models.hpp's make_lenet, PyTorch's
// names "0.weight", "1.running_mean", ...). Prints what loaded, the test accuracy of PyTorch's weights and
// after fine-tuning, and ends with `test_acc=0.XXXX`.
#include <iostream>

#include "common/distributed.hpp"
#include "common/models.hpp"
#include "common/trainer.hpp"

int main(int argc, char** argv) try {
  CLI::App app{
      "Evaluate and fine-tune PyTorch's LeNet-BN weights (a torch.save .pt file), then save them back"};
  examples::CommonOptions o;
  o.epochs = 1;
  o.batch_size = 256;
  o.lr = 0.1;
  std::string weights, save = "finetuned.pt", strip_prefix;
  examples::add_common_options(app, o);
  app.add_option("--weights", weights,
                 "PyTorch state dict of LeNet-BN (.pt from torch.save, or .safetensors)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--save", save, "Where the fine-tuned weights go (.pt: PyTorch's format; else safetensors)")
      ->capture_default_str();
  app.add_option("--strip-prefix", strip_prefix, "Key prefix to drop, e.g. 'module.' from DataParallel");
  if (auto status = examples::parse_command_line(app, argc, argv, o, "from_pytorch")) return *status;

  hnn::set_num_threads(o.threads);
  hnn::manual_seed(o.seed);
  auto net = examples::make_lenet(/*batch_norm=*/true);
  const auto keys = hnn::load(net, weights, hnn::LoadOptions().strip_prefix(strip_prefix));
  std::cout << "loaded " << net.state_dict().size() << " tensors from " << weights << ": " << keys << "\n";

  hnn::data::MNIST train_set(o.data, /*train=*/true), test_set(o.data, /*train=*/false);
  auto train_part = examples::first_samples(train_set, o.limit_train);
  auto test_part = examples::first_samples(test_set, o.limit_test);
  hnn::data::DataLoader train_loader(
      train_part,
      hnn::data::DataLoaderOptions().batch_size(o.batch_size).shuffle(true).seed(o.seed).prefetch(1));
  hnn::data::DataLoader test_loader(test_part, hnn::data::DataLoaderOptions().batch_size(1000));
  hnn::nn::CrossEntropyLoss criterion;
  auto loss_of = [&](const hnn::Tensor<float>& out, const auto& batch) {
    return criterion(out, batch.target);
  };
  auto correct_of = [](const hnn::Tensor<float>& out, const auto& batch) {
    return examples::count_correct(out, batch);
  };

  const auto before = examples::evaluate(net, test_loader, loss_of, correct_of);
  std::printf("PyTorch's weights: test_loss %.4f  test_acc %.4f on %lld samples\n", before.loss,
              before.accuracy, static_cast<long long>(before.samples));
  hnn::optim::SGD optimizer(net.parameters(), hnn::optim::SGDOptions(o.lr).momentum(0.9));
  double test_acc = before.accuracy;
  for (int epoch = 1; epoch <= o.epochs; ++epoch) {
    const std::string label = "fine-tune " + std::to_string(epoch) + "/" + std::to_string(o.epochs);
    const auto stats =
        examples::train_epoch(net, train_loader, optimizer, loss_of, correct_of, label, o.quiet);
    const auto test = examples::evaluate(net, test_loader, loss_of, correct_of);
    std::printf("fine-tune epoch %d/%d  loss %.4f  train_acc %.4f  test_loss %.4f  test_acc %.4f\n", epoch,
                o.epochs, stats.loss, stats.accuracy, test.loss, test.accuracy);
    test_acc = test.accuracy;
  }
  hnn::save(net, save);
  std::printf("wrote %s (load it in PyTorch: model.load_state_dict(torch.load('%s', weights_only=True)))\n",
              save.c_str(), save.c_str());
  std::printf("test_acc=%.4f\n", test_acc);
  return 0;
} catch (const std::exception& e) {
  return examples::fail("from_pytorch", e);
}
