// Tests for the forward hooks of include/hnn/nn/module.hpp: pre-hooks run before forward and post hooks
// after it, each kind in registration order; a post hook may replace the output (and the replacement is
// differentiable); RemovableHandle::remove() and ScopedRemovableHandle's destruction detach; hooks on
// modules inside a Sequential fire in network order; clones carry no hooks; no hooks = same output.
#include <catch2/catch.hpp>
#include <hnn/nn/activation.hpp>
#include <hnn/nn/linear.hpp>
#include <hnn/nn/sequential.hpp>
#include <memory>
#include <string>
#include <vector>

namespace nn = hnn::nn;

namespace {

using Log = std::vector<std::string>;

/// A module whose forward triples its input and writes "forward" to a log.
class Tripler : public nn::Cloneable<Tripler, double> {
 public:
  explicit Tripler(std::shared_ptr<Log> log) : log_(std::move(log)) {}
  hnn::Tensor<double> forward(const hnn::Tensor<double>& input) override {
    log_->push_back("forward");
    return input * 3.0;
  }
  std::string name() const override { return "Tripler"; }

 private:
  std::shared_ptr<Log> log_;
};

hnn::Tensor<double> input_1x3() { return hnn::tensor<double>({1, -2, 4}, {1, 3}); }

}  // namespace

TEST_CASE("pre-hooks run before forward, post hooks after it, each in registration order", "[hooks]") {
  auto log = std::make_shared<Log>();
  Tripler m(log);
  // Interleaved registration: the order within each kind is what counts.
  auto post_a = m.register_forward_hook([&](auto&, const auto&, auto&) { log->push_back("post a"); });
  auto pre_a = m.register_forward_pre_hook([&](auto&, const auto&) { log->push_back("pre a"); });
  auto post_b = m.register_forward_hook([&](auto&, const auto&, auto&) { log->push_back("post b"); });
  auto pre_b = m.register_forward_pre_hook([&](auto&, const auto&) { log->push_back("pre b"); });
  m(input_1x3());
  CHECK(*log == Log{"pre a", "pre b", "forward", "post a", "post b"});
  log->clear();
  m(input_1x3());  // hooks stay until removed
  CHECK(*log == Log{"pre a", "pre b", "forward", "post a", "post b"});
  log->clear();
  m.forward(input_1x3());  // calling forward() directly bypasses hooks, as in PyTorch
  CHECK(*log == Log{"forward"});
}

TEST_CASE("hooks see the module, its input and its output", "[hooks]") {
  auto log = std::make_shared<Log>();
  Tripler m(log);
  const auto x = input_1x3();
  nn::Module<double>* seen_module = nullptr;
  std::vector<double> seen_input, seen_output, seen_pre_input;
  auto pre = m.register_forward_pre_hook([&](auto& module, const auto& input) {
    seen_pre_input = input.to_vector();
    CHECK(module.name() == "Tripler");
  });
  auto post = m.register_forward_hook([&](auto& module, const auto& input, auto& output) {
    seen_module = &module;
    seen_input = input.to_vector();
    seen_output = output.to_vector();
  });
  auto y = m(x);
  CHECK(seen_module == &m);
  CHECK(seen_pre_input == std::vector<double>{1, -2, 4});
  CHECK(seen_input == std::vector<double>{1, -2, 4});
  CHECK(seen_output == std::vector<double>{3, -6, 12});
  CHECK(y.to_vector() == seen_output);
}

TEST_CASE("a post hook may replace the output; later hooks and the caller see the replacement", "[hooks]") {
  auto log = std::make_shared<Log>();
  Tripler m(log);
  std::vector<double> second_saw;
  auto add_one = m.register_forward_hook([](auto&, const auto&, auto& output) { output = output + 1.0; });
  auto record =
      m.register_forward_hook([&](auto&, const auto&, auto& output) { second_saw = output.to_vector(); });
  auto x = input_1x3().requires_grad_();
  auto y = m(x);
  CHECK(second_saw == std::vector<double>{4, -5, 13});
  CHECK(y.to_vector() == std::vector<double>{4, -5, 13});
  // The replacement is part of the graph: d/dx sum(3x + 1) = 3.
  y.sum().backward();
  CHECK(x.grad().to_vector() == std::vector<double>{3, 3, 3});

  add_one.remove();
  CHECK(m(input_1x3()).to_vector() == std::vector<double>{3, -6, 12});
}

TEST_CASE("remove() detaches a hook; removing twice, through a copy or after the module died is safe",
          "[hooks]") {
  auto log = std::make_shared<Log>();
  int calls = 0;
  {
    Tripler m(log);
    auto handle = m.register_forward_hook([&](auto&, const auto&, auto&) { ++calls; });
    auto pre = m.register_forward_pre_hook([&](auto&, const auto&) { ++calls; });
    m(input_1x3());
    CHECK(calls == 2);
    handle.remove();
    m(input_1x3());
    CHECK(calls == 3);  // only the pre-hook
    handle.remove();    // no-op
    auto copy = pre;    // copies of a handle refer to the same hook
    copy.remove();
    m(input_1x3());
    CHECK(calls == 3);
    pre.remove();
  }
  nn::RemovableHandle outlived;
  {
    Tripler m(log);
    outlived = m.register_forward_hook([&](auto&, const auto&, auto&) { ++calls; });
  }
  outlived.remove();  // the module is gone: nothing to do, no dangling access
  CHECK(calls == 3);
}

TEST_CASE("a hook may remove itself (or another) while the hooks run", "[hooks]") {
  auto log = std::make_shared<Log>();
  Tripler m(log);
  int once_calls = 0, later_calls = 0;
  nn::RemovableHandle once, later;
  once = m.register_forward_hook([&](auto&, const auto&, auto&) {
    ++once_calls;
    once.remove();
    later.remove();  // registered after this one: still runs in this call, then never again
  });
  later = m.register_forward_hook([&](auto&, const auto&, auto&) { ++later_calls; });
  m(input_1x3());
  m(input_1x3());
  CHECK(once_calls == 1);
  CHECK(later_calls == 1);
}

TEST_CASE("ScopedRemovableHandle removes its hook when destroyed or overwritten", "[hooks]") {
  auto log = std::make_shared<Log>();
  Tripler m(log);
  int a_calls = 0, b_calls = 0;
  {
    nn::ScopedRemovableHandle scoped = m.register_forward_hook([&](auto&, const auto&, auto&) { ++a_calls; });
    m(input_1x3());
    CHECK(a_calls == 1);
  }
  m(input_1x3());
  CHECK(a_calls == 1);

  nn::ScopedRemovableHandle outer;
  {
    nn::ScopedRemovableHandle inner = m.register_forward_hook([&](auto&, const auto&, auto&) { ++a_calls; });
    outer = std::move(inner);  // the hook now lives as long as `outer`
  }
  m(input_1x3());
  CHECK(a_calls == 2);
  outer = m.register_forward_hook([&](auto&, const auto&, auto&) { ++b_calls; });  // replaces and removes a
  m(input_1x3());
  CHECK(a_calls == 2);
  CHECK(b_calls == 1);
  outer.remove();
  m(input_1x3());
  CHECK(b_calls == 1);
}

TEST_CASE("hooks on a Sequential and on its children fire in network order", "[hooks]") {
  hnn::manual_seed(3);
  nn::Sequential<double> net{nn::Linear<double>(3, 4), nn::ReLU<double>(), nn::Linear<double>(4, 2),
                             nn::Tanh<double>()};
  Log log;
  std::vector<nn::ScopedRemovableHandle> handles;
  handles.emplace_back(net.register_forward_pre_hook([&](auto&, const auto&) { log.push_back("net pre"); }));
  handles.emplace_back(
      net.register_forward_hook([&](auto&, const auto&, auto&) { log.push_back("net post"); }));
  hnn::Tensor<double> relu_input, relu_output, tanh_input;
  for (size_t i = 0; i < net.size(); ++i)
    handles.emplace_back(net[i].register_forward_hook([&, i](auto& module, const auto& input, auto& output) {
      log.push_back(std::to_string(i) + " " + module.name());
      if (i == 1) relu_input = input, relu_output = output;
      if (i == 3) tanh_input = input;
    }));
  const auto x = hnn::tensor<double>({0.5, -1, 2, 1, 1, -3}, {2, 3});
  auto y = net(x);
  CHECK(log == Log{"net pre", "0 Linear", "1 ReLU", "2 Linear", "3 Tanh", "net post"});
  // Each child's hook sees what flows between the layers.
  const auto first = net[0](x);
  CHECK(relu_input.to_vector() == first.to_vector());
  CHECK(relu_output.to_vector() == first.relu().to_vector());
  CHECK(tanh_input.to_vector() == net[2](relu_output).to_vector());
}

TEST_CASE("modules without hooks, and after their hooks are removed, compute the same output", "[hooks]") {
  hnn::manual_seed(5);
  nn::Sequential<double> net{nn::Linear<double>(3, 4), nn::Sigmoid<double>(), nn::Linear<double>(4, 2)};
  const auto x = hnn::tensor<double>({0.5, -1, 2, 1, 1, -3}, {2, 3});
  const auto plain = net(x).to_vector();
  {
    // Read-only hooks leave the output as it was, down to the tensor object.
    std::vector<nn::ScopedRemovableHandle> handles;
    hnn::Tensor<double> returned_by_forward;
    handles.emplace_back(net[1].register_forward_hook([](auto&, const auto&, auto&) {}));
    handles.emplace_back(net.register_forward_pre_hook([](auto&, const auto&) {}));
    handles.emplace_back(
        net.register_forward_hook([&](auto&, const auto&, auto& out) { returned_by_forward = out; }));
    auto y = net(x);
    CHECK(y.to_vector() == plain);
    CHECK(y.is_same(returned_by_forward));
    handles.emplace_back(
        net[1].register_forward_hook([](auto&, const auto&, auto& out) { out = out * 0.0; }));
    CHECK(net(x).to_vector() != plain);
  }
  CHECK(net(x).to_vector() == plain);
}

TEST_CASE("clone() copies the module without its hooks", "[hooks]") {
  auto log = std::make_shared<Log>();
  Tripler m(log);
  int calls = 0;
  auto handle = m.register_forward_hook([&](auto&, const auto&, auto&) { ++calls; });
  auto copy = m.clone();
  (*copy)(input_1x3());
  CHECK(calls == 0);
  m(input_1x3());
  CHECK(calls == 1);
}
