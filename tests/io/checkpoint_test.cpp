// Tests for include/hnn/io/checkpoint.hpp: hnn::save/load of a module's state_dict (bitwise, PyTorch keys,
// strict key/shape/dtype checks, float conversion) and save_checkpoint/load_checkpoint with optimiser state
// and training metadata (a resumed run continues exactly as the uninterrupted one), and the malformed
// optimiser metadata of tests/fuzz/regressions/checkpoint.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <fstream>
#include <hnn/io/checkpoint.hpp>
#include <hnn/io/safetensors.hpp>
#include <hnn/nn/activation.hpp>
#include <hnn/nn/batch_norm.hpp>
#include <hnn/nn/linear.hpp>
#include <hnn/nn/sequential.hpp>
#include <hnn/optim/adam.hpp>
#include <hnn/optim/sgd.hpp>
#include <hnn/tensor.hpp>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

namespace nn = hnn::nn;

namespace {

template <class T = float>
nn::Sequential<T> make_net() {
  return nn::Sequential<T>{nn::Linear<T>(5, 4), nn::BatchNorm1d<T>(4), nn::ReLU<T>(), nn::Linear<T>(4, 3)};
}

template <class T>
std::vector<T> values_of(const hnn::AnyTensor<hnn::CPU>& t) {
  return t.as<T>().to_vector();
}

bool same_state(const hnn::nn::StateDict<hnn::CPU>& a, const hnn::nn::StateDict<hnn::CPU>& b) {
  if (a.keys() != b.keys()) return false;
  for (const auto& [key, t] : a) {
    const auto& u = b.at(key);
    if (t.dtype() != u.dtype() || t.shape() != u.shape()) return false;
    bool equal = t.dtype() == hnn::Dtype::Int64     ? values_of<int64_t>(t) == values_of<int64_t>(u)
                 : t.dtype() == hnn::Dtype::Float32 ? values_of<float>(t) == values_of<float>(u)
                                                    : values_of<double>(t) == values_of<double>(u);
    if (!equal) return false;
  }
  return true;
}

/// A few training steps on fixed data; returns the loss of the last.
template <class Net, class Opt>
float train_steps(Net& net, Opt& opt, int steps, uint64_t seed) {
  hnn::Generator g(seed);
  float loss_value = 0;
  for (int s = 0; s < steps; ++s) {
    auto x = hnn::randn<float>({8, 5}, g);
    auto target = hnn::randn<float>({8, 3}, g);
    opt.zero_grad();
    auto diff = net(x) - target;
    auto loss = (diff * diff).mean();
    loss.backward();
    opt.step();
    loss_value = loss.item();
  }
  return loss_value;
}

}  // namespace

TEST_CASE("save/load round-trips a state_dict bitwise under PyTorch's keys", "[io][checkpoint]") {
  hnn::manual_seed(1);
  auto net = make_net();
  net.train();
  hnn::Generator g(2);
  net(hnn::randn<float>({6, 5}, g));  // running stats and num_batches_tracked move
  hnn::save(net, "net.safetensors");

  auto content = hnn::io::read_safetensors("net.safetensors");
  std::vector<std::string> keys;
  for (const auto& e : content.tensors) keys.push_back(e.first);
  CHECK(keys == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                         "1.running_var", "1.num_batches_tracked", "3.weight", "3.bias"});
  CHECK(content.at("1.num_batches_tracked").dtype() == hnn::Dtype::Int64);
  CHECK(content.at("1.num_batches_tracked").to_vector<int64_t>() == std::vector<int64_t>{1});
  CHECK(content.metadata.at("format") == "pt");

  hnn::manual_seed(99);
  auto again = make_net();
  REQUIRE_FALSE(same_state(net.state_dict(), again.state_dict()));
  auto weight_before = again.state_dict().at("0.weight").as<float>();
  hnn::load(again, "net.safetensors");
  CHECK(same_state(net.state_dict(), again.state_dict()));
  // Loaded in place: tensors held elsewhere (an optimiser's references) see the new values.
  CHECK(weight_before.to_vector() == net.state_dict().at("0.weight").as<float>().to_vector());
}

TEST_CASE("load converts float dtypes like load_state_dict's copy", "[io][checkpoint]") {
  hnn::manual_seed(3);
  auto net64 = make_net<double>();
  hnn::save(net64, "net64.safetensors");
  auto net32 = make_net<float>();
  hnn::load(net32, "net64.safetensors");
  const auto mine_state = net32.state_dict();
  for (const auto& [key, t] : net64.state_dict()) {
    INFO(key);
    const auto& mine = mine_state.at(key);
    if (t.dtype() == hnn::Dtype::Int64) {
      CHECK(mine.dtype() == hnn::Dtype::Int64);
      continue;
    }
    CHECK(mine.dtype() == hnn::Dtype::Float32);
    auto want = t.to<float>().to_vector();
    CHECK(mine.as<float>().to_vector() == want);
  }
}

TEST_CASE("load lists missing, unexpected, mismatched and wrongly typed keys", "[io][checkpoint]") {
  hnn::manual_seed(4);
  auto net = make_net();
  auto sd = net.state_dict();
  std::vector<std::pair<std::string, hnn::AnyTensor<hnn::CPU>>> tensors;
  for (const auto& [key, t] : sd)
    if (key != "3.bias") tensors.emplace_back(key, t);

  SECTION("missing and unexpected keys, all in one message") {
    tensors.emplace_back("9.weight", hnn::zeros<float>({2}));
    hnn::io::write_safetensors("bad_keys.safetensors", tensors);
    CHECK_THROWS_WITH(hnn::load(net, "bad_keys.safetensors"),
                      Catch::Contains("bad_keys.safetensors") && Catch::Contains("Missing key(s)") &&
                          Catch::Contains("\"3.bias\"") && Catch::Contains("Unexpected key(s)") &&
                          Catch::Contains("\"9.weight\""));
    // Non-strict loads what matches.
    hnn::load(net, "bad_keys.safetensors", /*strict=*/false);
  }
  SECTION("shape mismatch") {
    tensors.emplace_back("3.bias", hnn::zeros<float>({4}));
    hnn::io::write_safetensors("bad_shape.safetensors", tensors);
    CHECK_THROWS_WITH(hnn::load(net, "bad_shape.safetensors"), Catch::Contains("size mismatch for 3.bias") &&
                                                                   Catch::Contains("[4]") &&
                                                                   Catch::Contains("[3]"));
  }
  SECTION("int/float mismatch") {
    tensors.emplace_back("3.bias", hnn::zeros<int64_t>({3}));
    hnn::io::write_safetensors("bad_dtype.safetensors", tensors);
    CHECK_THROWS_WITH(hnn::load(net, "bad_dtype.safetensors"), Catch::Contains("dtype mismatch for 3.bias") &&
                                                                   Catch::Contains("int64") &&
                                                                   Catch::Contains("float32"));
  }
  // Nothing was half-loaded by the failing strict loads.
  CHECK(net.state_dict().at("0.weight").as<float>().to_vector() == sd.at("0.weight").as<float>().to_vector());
}

TEST_CASE("a checkpoint with optimiser state resumes training exactly", "[io][checkpoint]") {
  SECTION("SGD with momentum") {
    hnn::manual_seed(5);
    auto net = make_net();
    hnn::optim::SGD opt(net.parameters(), hnn::optim::SGDOptions(0.05).momentum(0.9));
    train_steps(net, opt, 3, 10);
    hnn::CheckpointInfo info;
    info.epoch = 3;
    info.best_loss = 0.123456789012345;
    info.lr_history = {0.05, 0.05, 0.025};
    info.extra = {{"model", "mlp"}, {"accs", {0.5, 0.75}}};
    hnn::save_checkpoint("sgd.ckpt", net, opt, info);

    hnn::manual_seed(77);
    auto resumed = make_net();
    hnn::optim::SGD resumed_opt(resumed.parameters(), hnn::optim::SGDOptions(1.0));
    auto loaded = hnn::load_checkpoint("sgd.ckpt", resumed, resumed_opt);
    CHECK(loaded.epoch == 3);
    CHECK(loaded.best_loss == info.best_loss);
    CHECK(loaded.lr_history == info.lr_history);
    CHECK(loaded.extra == info.extra);
    CHECK(resumed_opt.lr() == 0.05);
    CHECK(same_state(net.state_dict(), resumed.state_dict()));

    float a = train_steps(net, opt, 2, 11), b = train_steps(resumed, resumed_opt, 2, 11);
    CHECK(a == b);
    CHECK(same_state(net.state_dict(), resumed.state_dict()));
  }
  SECTION("Adam, default metadata (best_loss inf)") {
    hnn::manual_seed(6);
    auto net = make_net();
    hnn::optim::Adam opt(net.parameters(), hnn::optim::AdamOptions(1e-2));
    train_steps(net, opt, 4, 20);
    hnn::save_checkpoint("adam.ckpt", net, opt);
    auto content = hnn::io::read_safetensors("adam.ckpt");
    CHECK(content.contains("model.1.num_batches_tracked"));
    bool has_optimizer_tensor = false;
    for (const auto& e : content.tensors) has_optimizer_tensor |= e.first.rfind("optimizer.state.", 0) == 0;
    CHECK(has_optimizer_tensor);

    auto resumed = make_net();
    hnn::optim::Adam resumed_opt(resumed.parameters());
    auto loaded = hnn::load_checkpoint("adam.ckpt", resumed, resumed_opt);
    CHECK(loaded.epoch == 0);
    CHECK(std::isinf(loaded.best_loss));
    CHECK(loaded.lr_history.empty());
    float a = train_steps(net, opt, 2, 21), b = train_steps(resumed, resumed_opt, 2, 21);
    CHECK(a == b);
    CHECK(same_state(net.state_dict(), resumed.state_dict()));
  }
  SECTION("a plain weights file is not a checkpoint") {
    auto net = make_net();
    hnn::optim::SGD opt(net.parameters(), hnn::optim::SGDOptions(0.1));
    hnn::save(net, "weights.safetensors");
    CHECK_THROWS_WITH(hnn::load_checkpoint("weights.safetensors", net, opt),
                      Catch::Contains("weights.safetensors") && Catch::Contains("hnn.checkpoint"));
  }
}

// Inputs committed in tests/fuzz/regressions/checkpoint/ in checkpoint_fuzz.cpp's framing: [selector: bit 0 =
// Adam][zero tail, u32 LE][file bytes], the file being the bytes followed by that many zeros. Both were Adam
// checkpoints of make_net() whose optimiser JSON made nlohmann's type_error escape load_checkpoint.
TEST_CASE("load_checkpoint reports malformed optimiser metadata as invalid_argument",
          "[io][checkpoint][fuzz]") {
  auto unframe = [](const std::string& name) {
    std::ifstream in(std::string(HNN_TEST_REFERENCES_DIR) + "/../fuzz/regressions/checkpoint/" + name,
                     std::ios::binary);
    REQUIRE(in);
    const std::string input((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(input.size() >= 5);
    REQUIRE((input[0] & 1) == 1);
    uint32_t tail = 0;
    for (int i = 0; i < 4; ++i) tail |= uint32_t(static_cast<unsigned char>(input[1 + i])) << (8 * i);
    const std::string path = "fuzz_" + name + ".ckpt";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << input.substr(5) + std::string(tail, '\0');
    return path;
  };
  auto net = make_net();
  hnn::optim::Adam adam(net.parameters());
  SECTION("the optimizer metadata is the number 5, not an object") {
    const auto path = unframe("optimizer_meta_not_object");
    CHECK_THROWS_AS(hnn::load_checkpoint(path, net, adam), std::invalid_argument);
    CHECK_THROWS_WITH(hnn::load_checkpoint(path, net, adam),
                      Catch::Contains("Adam.load_state_dict: the state's meta must be a JSON object, got 5"));
  }
  SECTION("a learning rate that is a string") {
    const auto path = unframe("adam_lr_string");
    CHECK_THROWS_WITH(hnn::load_checkpoint(path, net, adam),
                      Catch::Contains("parameter group 0 has a malformed option") &&
                          Catch::Contains("type must be number, but is string") &&
                          Catch::Contains("\"lr\":\"x\""));
    CHECK(adam.options().lr() == 1e-3);  // a rejected state leaves the optimiser as it was
  }
}
