// Tests the layers inside whole models: the state_dict() keys and shapes of the LeNet-BN Sequential (and
// of the contract's models) equal PyTorch's list, in order, and print(model) equals PyTorch's, from the
// fixtures of tools/references/layers.py; a LeNet-BN training step reaches every parameter.
#include <catch2/catch.hpp>
#include <hnn/nn/activation.hpp>
#include <hnn/nn/batch_norm.hpp>
#include <hnn/nn/conv.hpp>
#include <hnn/nn/dropout.hpp>
#include <hnn/nn/flatten.hpp>
#include <hnn/nn/linear.hpp>
#include <hnn/nn/pooling.hpp>
#include <hnn/nn/sequential.hpp>

#include "lenet_bn.hpp"
#include "reference.hpp"

namespace nn = hnn::nn;

namespace {

const hnn::test::References& refs() {
  static hnn::test::References r("layers.json");
  return r;
}

nn::Sequential<float> contract_lenet() {
  return nn::Sequential{nn::Conv2d(nn::Conv2dOptions(1, 6, 5).padding(0)),
                        nn::BatchNorm2d(6),
                        nn::Sigmoid(),
                        nn::AvgPool2d(2, 2),
                        nn::Conv2d(nn::Conv2dOptions(6, 16, 5)),
                        nn::BatchNorm2d(16),
                        nn::Sigmoid(),
                        nn::MaxPool2d(2, 2),
                        nn::Flatten(),
                        nn::Linear(256, 120),
                        nn::BatchNorm1d(120),
                        nn::Tanh(),
                        nn::Linear(120, 84),
                        nn::BatchNorm1d(84),
                        nn::Sigmoid(),
                        nn::Linear(84, 10),
                        nn::LogSoftmax(1)};
}

nn::Sequential<float> contract_mlp() {
  return nn::Sequential{nn::Flatten(),        nn::Linear(784, 256), nn::ReLU(),
                        nn::BatchNorm1d(256), nn::Dropout(0.25),    nn::Linear(256, 10)};
}

nn::Sequential<float> odd_layers() {
  return nn::Sequential{nn::Conv2d(nn::Conv2dOptions(3, 8, {3, 5}).stride(2).padding(1).bias(false)),
                        nn::MaxPool2d(3, 2),
                        nn::AvgPool2d({2, 3}, {1, 2}),
                        nn::Softmax(1),
                        nn::Dropout(0.5),
                        nn::Linear(10, 3, false),
                        nn::Flatten(0, 2)};
}

void check_against_pytorch(const std::string& case_name, const nn::Sequential<float>& model) {
  auto c = refs().get(case_name);
  INFO("case " << case_name << ": " << c.call());
  auto keys = c.param<std::vector<std::string>>("keys");
  auto shapes = c.param<std::vector<std::vector<int64_t>>>("shapes");
  auto sd = model.state_dict();
  std::vector<std::string> ours;
  std::vector<std::vector<int64_t>> our_shapes;
  for (const auto& [key, value] : sd) {
    ours.push_back(key);
    our_shapes.push_back(value.shape().vec());
  }
  CHECK(ours == keys);
  CHECK(our_shapes == shapes);
  CHECK(model.repr() == c.param<std::string>("repr"));
}

}  // namespace

TEST_CASE("LeNet-BN state_dict keys, shapes and repr equal PyTorch's", "[model][state_dict]") {
  check_against_pytorch("model_lenet_bn", hnn_test::lenet_bn());
}

TEST_CASE("The contract's models have PyTorch's state_dict keys and repr", "[model][state_dict]") {
  check_against_pytorch("model_contract_lenet", contract_lenet());
  check_against_pytorch("model_contract_mlp", contract_mlp());
  check_against_pytorch("model_odd_layers", odd_layers());
}

TEST_CASE("A LeNet-BN training step gives every parameter a gradient", "[model]") {
  hnn::manual_seed(1);
  auto model = hnn_test::lenet_bn();
  model.train();
  hnn::Generator gen(4);
  auto x = hnn::rand<float>({8, 1, 28, 28}, gen);
  auto out = model(x);
  REQUIRE(out.shape() == hnn::Shape{8, 10});
  out.log_softmax(1).sum().backward();
  for (const auto& [name, p] : model.named_parameters()) {
    INFO(name);
    REQUIRE(p.grad().defined());
    CHECK(p.grad().shape() == p.shape());
  }
  CHECK_FALSE(x.grad().defined());
  // The state dict round-trips into a freshly initialised model.
  auto other = hnn_test::lenet_bn();
  other.load_state_dict(model.state_dict());
  CHECK(other.get<nn::Linear<float>>(15).weight().to_vector() ==
        model.get<nn::Linear<float>>(15).weight().to_vector());
  model.eval();
  other.eval();
  CHECK(other(x).to_vector() == model(x).to_vector());
}
