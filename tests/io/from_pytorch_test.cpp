// A LeNet-BN trained in PyTorch and saved with torch.save(model.state_dict()) (tests/references/torch/
// lenet_bn_fmnist.pt, from tools/from_pytorch.py --fixture) loads into hnn's LeNet-BN through hnn::load and
// gives PyTorch's eval-mode logits on four fixed images; saved again as .pt it reads back identically, and
// as a state dict without num_batches_tracked it still loads strictly.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <hnn/hnn.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lenet_bn.hpp"

namespace fs = std::filesystem;

namespace {

const std::string dir = std::string(HNN_TEST_REFERENCES_DIR) + "/torch/";

nlohmann::json fixture() {
  std::ifstream in(dir + "lenet_bn_fmnist.json");
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("PyTorch's LeNet-BN weights give PyTorch's logits in hnn", "[io][porting][reference]") {
  const auto expected = fixture();
  auto net = hnn_test::lenet_bn<float>();
  const auto keys = hnn::load(net, dir + "lenet_bn_fmnist.pt");
  CHECK(keys.empty());
  net.eval();
  const auto images = expected["images"].get<std::vector<float>>();
  const auto logits = net(hnn::tensor<float>(images, {4, 1, 28, 28})).to_vector();
  const auto want = expected["logits"].get<std::vector<float>>();
  REQUIRE(logits.size() == want.size());
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, std::abs(double(logits[i]) - double(want[i])));
  INFO("largest logit difference " << worst);
  CHECK(worst < 2e-5);

  // Saved as .pt by hnn, read back: the same tensors, bit for bit, and the same logits.
  const fs::path out = fs::current_path() / "from_pytorch_test_resaved.pt";
  hnn::save(net, out.string());
  CHECK(hnn::io::is_torch_zip(out.string()));
  auto again = hnn_test::lenet_bn<float>();
  CHECK(hnn::load(again, out.string()).empty());
  for (const auto& [key, value] : net.state_dict())
    CHECK(again.state_dict().at(key).to_vector() == value.to_vector());
  again.eval();
  CHECK(again(hnn::tensor<float>(images, {4, 1, 28, 28})).to_vector() == logits);
}

TEST_CASE("a .pt state dict into a double model, and with a prefix", "[io][porting]") {
  auto net = hnn_test::lenet_bn<double>();
  CHECK(hnn::load(net, dir + "lenet_bn_fmnist.pt").empty());
  auto reference = hnn_test::lenet_bn<float>();
  hnn::load(reference, dir + "lenet_bn_fmnist.pt");
  CHECK(net.state_dict().at("9.weight").to_vector() == reference.state_dict().at("9.weight").to_vector());
  // A DataParallel-style file: every key under "module.".
  const fs::path wrapped = fs::current_path() / "from_pytorch_test_module.pt";
  std::vector<std::pair<std::string, hnn::AnyTensor<hnn::CPU>>> tensors;
  for (const auto& [key, value] : reference.state_dict()) tensors.emplace_back("module." + key, value);
  hnn::io::write_torch(wrapped.string(), tensors);
  auto target = hnn_test::lenet_bn<float>();
  const auto wrong = hnn::load(target, wrapped.string(), false);
  CHECK(wrong.unexpected_keys.size() == tensors.size());
  CHECK(hnn::load(target, wrapped.string(), hnn::LoadOptions().strip_prefix("module.")).empty());
  CHECK(target.state_dict().at("15.bias").to_vector() == reference.state_dict().at("15.bias").to_vector());
}

TEST_CASE("hnn::load names the file and the format for what it cannot read", "[io][porting][errors]") {
  auto net = hnn_test::lenet_bn<float>();
  auto message = [&](const std::string& path) {
    try {
      hnn::load(net, path);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK_THAT(message(dir + "whole_model.pt"),
             Catch::Contains("state_dict()") && Catch::Contains("whole_model.pt"));
  CHECK_THAT(message(dir + "legacy.pt"), Catch::Contains("legacy") && Catch::Contains("legacy.pt"));
  // A different model's state dict: strict lists what does not match, naming the file.
  CHECK_THAT(message(dir + "named_submodules.pt"),
             Catch::Contains("named_submodules.pt") && Catch::Contains("Missing key(s)"));
}

TEST_CASE("a .pt state dict without num_batches_tracked loads strictly, the counters at 0", "[io][porting]") {
  auto reference = hnn_test::lenet_bn<float>();
  hnn::load(reference, dir + "lenet_bn_fmnist.pt");
  std::vector<std::pair<std::string, hnn::AnyTensor<hnn::CPU>>> tensors;
  for (const auto& [key, value] : reference.state_dict())
    if (key.find("num_batches_tracked") == std::string::npos) tensors.emplace_back(key, value);
  REQUIRE(tensors.size() == reference.state_dict().size() - 4);
  const fs::path path = fs::current_path() / "from_pytorch_test_no_counters.pt";
  hnn::io::write_torch(path.string(), tensors);
  auto net = hnn_test::lenet_bn<float>();
  net.train();
  net(hnn::randn<float>({3, 1, 28, 28}));  // counters at 1, to be reset
  CHECK(hnn::load(net, path.string()).empty());
  for (const int64_t i : {1, 5})
    CHECK(net.get<hnn::nn::BatchNorm2d<float>>(static_cast<size_t>(i)).num_batches_tracked() == 0);
  for (const int64_t i : {10, 13})
    CHECK(net.get<hnn::nn::BatchNorm1d<float>>(static_cast<size_t>(i)).num_batches_tracked() == 0);
  CHECK(net.state_dict().at("1.running_var").to_vector() ==
        reference.state_dict().at("1.running_var").to_vector());
}
