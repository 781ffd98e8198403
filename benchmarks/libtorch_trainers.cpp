// The anchor for the trainers' speed claim: the same LeNet-BN and MLP-BN recipes as examples/lenet.cpp and
// examples/mlp.cpp, written with libtorch (Debian's libtorch-dev 1.13), on the same Fashion-MNIST files.
// Prints per-epoch compute time (data already in memory, so loading is excluded on both sides), samples/s,
// test accuracy and peak RSS. scripts/compare_trainers.sh runs it next to hnn's examples.
//
//   libtorch_trainers --model lenet|mlp --epochs 3 --threads 2 --seed 0 --data
//   /usr/share/datasets/fashion-mnist
#include <sys/resource.h>
#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

std::vector<unsigned char> read_gz(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path);
  std::vector<unsigned char> out;
  unsigned char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  gzclose(f);
  return out;
}

uint32_t be32(const unsigned char* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

std::pair<torch::Tensor, torch::Tensor> load(const std::string& root, bool train) {
  std::string prefix = root + "/" + (train ? "train" : "t10k");
  auto images = read_gz(prefix + "-images-idx3-ubyte.gz");
  auto labels = read_gz(prefix + "-labels-idx1-ubyte.gz");
  int64_t n = be32(&images[4]);
  auto x =
      torch::from_blob(images.data() + 16, {n, 1, 28, 28}, torch::kUInt8).to(torch::kFloat32).div_(255.0);
  auto y = torch::from_blob(labels.data() + 8, {n}, torch::kUInt8).to(torch::kInt64);
  return {x.clone(), y.clone()};
}

torch::nn::Sequential lenet() {
  using namespace torch::nn;
  Sequential net(Conv2d(Conv2dOptions(1, 6, 5)), BatchNorm2d(6), Sigmoid(),
                 AvgPool2d(AvgPool2dOptions(2).stride(2)), Conv2d(Conv2dOptions(6, 16, 5)), BatchNorm2d(16),
                 Sigmoid(), AvgPool2d(AvgPool2dOptions(2).stride(2)), Flatten(), Linear(256, 120),
                 BatchNorm1d(120), Sigmoid(), Linear(120, 84), BatchNorm1d(84), Sigmoid(), Linear(84, 10));
  for (auto& p : net->named_parameters())
    if (p.key().find("weight") != std::string::npos && p.value().dim() > 1)
      torch::nn::init::xavier_uniform_(p.value());
  return net;
}

torch::nn::Sequential mlp() {
  using namespace torch::nn;
  return Sequential(Flatten(), Linear(784, 256), ReLU(), BatchNorm1d(256), Linear(256, 10));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = "lenet", data = "/usr/share/datasets/fashion-mnist";
  int epochs = 3, threads = 2, seed = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--model")
      model = v;
    else if (k == "--epochs")
      epochs = std::stoi(v);
    else if (k == "--threads")
      threads = std::stoi(v);
    else if (k == "--data")
      data = v;
    else if (k == "--seed")
      seed = std::stoi(v);
    else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  torch::set_num_threads(threads);
  torch::manual_seed(seed);
  auto [train_x, train_y] = load(data, true);
  auto [test_x, test_y] = load(data, false);
  const bool is_lenet = model == "lenet";
  auto net = is_lenet ? lenet() : mlp();
  const int64_t batch = is_lenet ? 256 : 64;
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (is_lenet)
    opt = std::make_unique<torch::optim::SGD>(net->parameters(), torch::optim::SGDOptions(0.9));
  else
    opt = std::make_unique<torch::optim::Adam>(net->parameters(), torch::optim::AdamOptions(1e-3));
  const int64_t n = train_x.size(0);
  std::vector<double> rates;
  double test_acc = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    net->train();
    auto perm = torch::randperm(n);
    auto xs = train_x.index_select(0, perm), ys = train_y.index_select(0, perm);
    auto start = std::chrono::steady_clock::now();
    double loss_sum = 0;
    int64_t batches = 0;
    for (int64_t b = 0; b < n; b += batch) {
      int64_t e = std::min(n, b + batch);
      auto x = xs.slice(0, b, e), y = ys.slice(0, b, e);
      opt->zero_grad();
      auto loss = torch::nn::functional::cross_entropy(net->forward(x), y);
      loss.backward();
      opt->step();
      loss_sum += loss.item<double>();
      ++batches;
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rates.push_back(static_cast<double>(n) / seconds);
    net->eval();
    torch::NoGradGuard guard;
    int64_t correct = 0;
    for (int64_t b = 0; b < test_x.size(0); b += 1000) {
      auto out = net->forward(test_x.slice(0, b, std::min(test_x.size(0), b + 1000)));
      correct +=
          out.argmax(1).eq(test_y.slice(0, b, std::min(test_x.size(0), b + 1000))).sum().item<int64_t>();
    }
    test_acc = static_cast<double>(correct) / static_cast<double>(test_x.size(0));
    std::printf("epoch %d loss %.4f test_acc %.4f time %.2fs samples/s %.0f\n", epoch + 1, loss_sum / batches,
                test_acc, seconds, rates.back());
  }
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("median_samples_per_s=%.0f peak_rss_mb=%.1f test_acc=%.4f\n", median(rates),
              static_cast<double>(usage.ru_maxrss) / 1024.0, test_acc);
}
