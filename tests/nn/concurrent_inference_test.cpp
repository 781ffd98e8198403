// One model, many readers: four std::threads run a trained LeNet-BN in eval mode at the same time, two
// under NoGradGuard and two under InferenceMode, and every output equals, bit for bit, the one computed
// sequentially; the model's state is untouched and grad mode stays per thread. Built and run under
// ThreadSanitizer by scripts/tsan.sh, where any unsynchronised write shared by the forwards is reported.
#include <catch2/catch.hpp>
#include <exception>
#include <hnn/nn/activation.hpp>
#include <hnn/nn/batch_norm.hpp>
#include <hnn/nn/conv.hpp>
#include <hnn/nn/flatten.hpp>
#include <hnn/nn/linear.hpp>
#include <hnn/nn/pooling.hpp>
#include <hnn/nn/sequential.hpp>
#include <hnn/tensor.hpp>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "lenet_bn.hpp"

namespace nn = hnn::nn;

namespace {

/// Every state_dict tensor as doubles, to compare before and after.
std::vector<std::vector<double>> state_values(const nn::Sequential<float>& model) {
  std::vector<std::vector<double>> out;
  for (const auto& [key, value] : model.state_dict()) out.push_back(value.to<double>().to_vector());
  return out;
}

}  // namespace

TEST_CASE("four threads running one eval-mode LeNet-BN get the sequential results", "[nn][threads]") {
  hnn::manual_seed(3);
  auto model = hnn_test::lenet_bn();
  hnn::Generator gen(8);
  // A few training-mode forwards give the running statistics values other than their initial 0 and 1.
  for (int i = 0; i < 3; ++i) {
    hnn::NoGradGuard no_grad;
    (void)model(hnn::randn<float>({16, 1, 28, 28}, gen) * 2.0f + 0.5f);
  }
  model.eval();

  constexpr int threads = 4, rounds = 2;
  std::vector<hnn::Tensor<float>> inputs;
  for (int i = 0; i < 12; ++i) inputs.push_back(hnn::rand<float>({i % 2 == 0 ? 16 : 5, 1, 28, 28}, gen));
  std::vector<std::vector<float>> expected;
  {
    hnn::NoGradGuard no_grad;
    for (const auto& x : inputs) expected.push_back(model(x).to_vector());
  }
  const auto state_before = state_values(model);

  // outputs[t][r * inputs + i]: thread t's result for input i in round r.
  std::vector<std::vector<std::vector<float>>> outputs(threads);
  std::vector<std::vector<bool>> recorded_graph(threads);
  std::vector<std::exception_ptr> errors(threads);
  std::latch start(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      try {
        outputs[t].resize(rounds * inputs.size());
        auto run = [&] {
          start.arrive_and_wait();  // all four forwards overlap from the first input on
          for (int r = 0; r < rounds; ++r)
            for (size_t k = 0; k < inputs.size(); ++k) {
              // Each thread walks the inputs from a different start, so different layers overlap too.
              const size_t i = (k + static_cast<size_t>(t) * 3) % inputs.size();
              auto y = model(inputs[i]);
              recorded_graph[t].push_back(y.requires_grad() || y.grad_fn() != nullptr);
              outputs[t][r * inputs.size() + i] = y.to_vector();
            }
        };
        if (t % 2 == 0) {
          hnn::NoGradGuard no_grad;
          run();
        } else {
          hnn::InferenceMode inference;
          run();
        }
      } catch (...) {
        errors[t] = std::current_exception();
      }
    });
  }
  for (auto& w : workers) w.join();

  for (int t = 0; t < threads; ++t) {
    INFO("thread " << t << (t % 2 == 0 ? " (NoGradGuard)" : " (InferenceMode)"));
    if (errors[t]) std::rethrow_exception(errors[t]);
    REQUIRE(outputs[t].size() == rounds * inputs.size());
    for (size_t j = 0; j < outputs[t].size(); ++j) {
      INFO("round " << j / inputs.size() << ", input " << j % inputs.size());
      CHECK(outputs[t][j] == expected[j % inputs.size()]);
    }
    for (bool recorded : recorded_graph[t]) CHECK_FALSE(recorded);
  }
  CHECK(state_values(model) == state_before);  // eval forwards read the running statistics, never write
  CHECK(hnn::is_grad_enabled());               // the guards were the worker threads' own
  CHECK_FALSE(hnn::InferenceMode::is_enabled());
}
