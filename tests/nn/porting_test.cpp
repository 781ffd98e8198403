// Porting a model from PyTorch (issue 21, items 2 and 4): load_state_dict and hnn::load return PyTorch's
// IncompatibleKeys when not strict (and print as PyTorch prints them), a size mismatch raises either way, a
// batch norm's missing num_batches_tracked loads as 0 without being reported, LoadOptions strips or adds a
// key prefix (DataParallel's "module.", a checkpoint's "model."), and an error raised inside a forward names
// the failing module's path ("9 (Linear): ...", "features.3 (Conv2d): ...") with its exception type kept.
#include <catch2/catch.hpp>
#include <filesystem>
#include <hnn/hnn.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace nn = hnn::nn;
namespace fs = std::filesystem;

namespace {

nn::Sequential<float> mlp_bn() {
  return nn::Sequential<float>{nn::Linear(4, 8), nn::BatchNorm1d(8), nn::ReLU(), nn::Linear(8, 3)};
}

/// A model with named submodules, as PyTorch users write them: features (a Sequential) and a classifier.
class Net : public nn::Cloneable<Net> {
 public:
  Net() {
    features_ =
        register_module("features", std::make_shared<nn::Sequential<float>>(nn::Sequential<float>{
                                        nn::Conv2d(nn::Conv2dOptions(1, 4, 3)), nn::BatchNorm2d(4),
                                        nn::ReLU(), nn::Conv2d(nn::Conv2dOptions(4, 4, 3)), nn::Flatten()}));
    classifier_ = register_module("classifier", std::make_shared<nn::Linear<float>>(4 * 4 * 4, 2));
  }
  hnn::Tensor<float> forward(const hnn::Tensor<float>& x) override { return (*classifier_)((*features_)(x)); }
  std::string name() const override { return "Net"; }

 private:
  std::shared_ptr<nn::Sequential<float>> features_;
  std::shared_ptr<nn::Linear<float>> classifier_;
};

template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::string printed(const nn::IncompatibleKeys& keys) {
  std::ostringstream os;
  os << keys;
  return os.str();
}

}  // namespace

TEST_CASE("load_state_dict(strict=false) returns the missing and unexpected keys", "[nn][porting]") {
  auto source = mlp_bn();
  auto target = mlp_bn();
  nn::StateDict<hnn::CPU> state;
  for (const auto& [key, value] : source.state_dict())
    if (key != "3.bias") state.insert(key == "0.weight" ? "extra.weight" : key, value);
  state.insert("0.weight", source.state_dict().at("0.weight"));
  state.insert("head.scale", hnn::AnyTensor<hnn::CPU>(hnn::ones<float>({1})));
  const auto keys = target.load_state_dict(state, /*strict=*/false);
  CHECK(keys.missing_keys == std::vector<std::string>{"3.bias"});
  CHECK(keys.unexpected_keys == std::vector<std::string>{"extra.weight", "head.scale"});
  CHECK_FALSE(keys.empty());
  CHECK(printed(keys) ==
        "_IncompatibleKeys(missing_keys=['3.bias'], unexpected_keys=['extra.weight', 'head.scale'])");
  // What matched was copied; strict mode raises with the same lists.
  CHECK(target.state_dict().at("3.weight").to_vector() == source.state_dict().at("3.weight").to_vector());
  CHECK_THAT(message_of([&] { target.load_state_dict(state); }),
             Catch::Contains("Missing key(s) in state_dict: \"3.bias\"") &&
                 Catch::Contains("Unexpected key(s) in state_dict: \"extra.weight\", \"head.scale\""));
  const auto all = target.load_state_dict(source.state_dict());
  CHECK(all.empty());
  CHECK(printed(all) == "<All keys matched successfully>");
}

TEST_CASE("a size mismatch raises even when not strict, and nothing is written", "[nn][porting]") {
  auto target = mlp_bn();
  const auto before = target.state_dict().at("0.bias").to_vector();
  nn::StateDict<hnn::CPU> state;
  state.insert("0.bias", hnn::AnyTensor<hnn::CPU>(hnn::zeros<float>({9})));
  state.insert("3.bias", hnn::AnyTensor<hnn::CPU>(hnn::zeros<float>({3})));
  CHECK_THAT(
      message_of([&] { target.load_state_dict(state, false); }),
      Catch::Contains("size mismatch for 0.bias: copying a param with shape [9] from checkpoint, the shape "
                      "in current model is [8]."));
  CHECK(target.state_dict().at("0.bias").to_vector() == before);
  CHECK_THROWS_AS(target.load_state_dict(state, false), std::runtime_error);
}

TEST_CASE("a batch norm's missing num_batches_tracked loads as 0 and is not reported", "[nn][porting]") {
  auto source = mlp_bn();
  auto target = mlp_bn();
  // Give the target a counter that must be reset, and the source running statistics to copy.
  target.train();
  target(hnn::randn<float>({5, 4}));
  target(hnn::randn<float>({5, 4}));
  auto& bn = target.get<nn::BatchNorm1d<float>>(1);
  REQUIRE(bn.num_batches_tracked() == 2);
  source.train();
  source(hnn::randn<float>({6, 4}));
  nn::StateDict<hnn::CPU> state;
  for (const auto& [key, value] : source.state_dict())
    if (key != "1.num_batches_tracked") state.insert(key, value);
  const auto keys = target.load_state_dict(state);  // strict: still fine
  CHECK(keys.empty());
  CHECK(bn.num_batches_tracked() == 0);
  CHECK(bn.running_mean().to_vector() == source.get<nn::BatchNorm1d<float>>(1).running_mean().to_vector());
  // Any other missing buffer is still reported.
  nn::StateDict<hnn::CPU> no_mean;
  for (const auto& [key, value] : source.state_dict())
    if (key != "1.running_mean") no_mean.insert(key, value);
  CHECK(target.load_state_dict(no_mean, false).missing_keys == std::vector<std::string>{"1.running_mean"});
}

TEST_CASE("hnn::load returns IncompatibleKeys and strips or adds a key prefix", "[io][porting]") {
  const fs::path dir = fs::current_path() / "porting_test";
  fs::create_directories(dir);
  auto source = mlp_bn();
  const std::string plain = (dir / "plain.safetensors").string();
  hnn::save(source, plain);
  // DataParallel's keys: "module.0.weight", ...
  nn::Sequential<float> wrapper;
  wrapper.push_back(mlp_bn());
  const std::string wrapped = (dir / "wrapped.safetensors").string();
  std::vector<std::pair<std::string, hnn::AnyTensor<hnn::CPU>>> tensors;
  for (const auto& [key, value] : source.state_dict()) tensors.emplace_back("module." + key, value);
  hnn::io::write_safetensors(wrapped, tensors, {{"format", "pt"}});

  auto target = mlp_bn();
  const auto wrong = hnn::load(target, wrapped, /*strict=*/false);
  CHECK(wrong.missing_keys.size() == target.state_dict().size() - 1);  // all but num_batches_tracked
  CHECK(wrong.unexpected_keys.size() == source.state_dict().size());
  CHECK_THAT(message_of([&] { hnn::load(target, wrapped); }),
             Catch::Contains("hnn::load('" + wrapped + "')") && Catch::Contains("Missing key(s)"));
  CHECK(hnn::load(target, wrapped, hnn::LoadOptions().strip_prefix("module.")).empty());
  CHECK(target.state_dict().at("3.weight").to_vector() == source.state_dict().at("3.weight").to_vector());
  // The other way round: a bare model's file into a wrapper that holds it as child "0".
  CHECK(hnn::load(wrapper, plain, hnn::LoadOptions().add_prefix("0.")).empty());
  CHECK(wrapper.state_dict().at("0.3.weight").to_vector() == source.state_dict().at("3.weight").to_vector());
  // A trainer's checkpoint: the model's entries under "model.", the optimiser's passed over.
  hnn::optim::SGD optimizer(source.parameters(), hnn::optim::SGDOptions(0.1).momentum(0.9));
  const std::string checkpoint = (dir / "best.safetensors").string();
  hnn::save_checkpoint(checkpoint, source, optimizer);
  auto from_checkpoint = mlp_bn();
  CHECK(hnn::load(from_checkpoint, checkpoint, hnn::LoadOptions().strip_prefix("model.")).empty());
  CHECK(from_checkpoint.state_dict().at("0.weight").to_vector() ==
        source.state_dict().at("0.weight").to_vector());
  CHECK_FALSE(hnn::load(from_checkpoint, checkpoint, false).empty());
}

TEST_CASE("an error inside forward names the module's path and keeps its type", "[nn][porting]") {
  SECTION("a Sequential's child") {
    auto model = mlp_bn();
    const auto message = message_of([&] { model(hnn::randn<float>({2, 5})); });
    CHECK_THAT(message, Catch::StartsWith("0 (Linear): ") && Catch::Contains("5"));
    CHECK_THROWS_AS(model(hnn::randn<float>({2, 5})), std::invalid_argument);
    // The same failure again reads the same (no path left over from the last one).
    CHECK(message_of([&] { model(hnn::randn<float>({2, 5})); }) == message);
  }
  SECTION("a registered child of a user's module, inside a Sequential") {
    Net net;
    const auto message = message_of([&] { net(hnn::randn<float>({1, 2, 8, 8})); });
    CHECK_THAT(message, Catch::StartsWith("features.0 (Conv2d): "));
    CHECK_THROWS_AS(net(hnn::randn<float>({1, 2, 8, 8})), std::invalid_argument);
    CHECK_THAT(message_of([&] {
                 net(hnn::randn<float>({1, 1, 9, 9}));
               }),
               Catch::StartsWith("classifier (Linear): "));
  }
  SECTION("the module called is the one that fails: its message is unchanged") {
    nn::Linear<float> linear(3, 2);
    const auto direct = message_of([&] { linear(hnn::randn<float>({2, 4})); });
    CHECK_FALSE(direct.empty());
    CHECK_THAT(direct, !Catch::Contains("(Linear): "));
  }
}
