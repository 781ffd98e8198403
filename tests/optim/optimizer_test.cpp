// Tests for include/hnn/optim/optimizer.hpp, sgd.hpp and adam.hpp: 10-step trajectories of a small model
// against PyTorch (tools/references/optim.py) for every SGD option, Adam, AdamW and mid-run lr changes;
// state_dict round trips; zero_grad; parameter groups; PyTorch's messages for invalid options.
#include <catch2/catch.hpp>
#include <hnn/optim/adam.hpp>
#include <hnn/optim/sgd.hpp>
#include <hnn/tensor.hpp>
#include <memory>

#include "reference.hpp"

namespace optim = hnn::optim;
using hnn::test::expect_close;

namespace {

const hnn::test::References& refs() {
  static hnn::test::References r("optim.json");
  return r;
}

const char* const kParamNames[] = {"0.weight", "0.bias", "2.weight", "2.bias"};

/// Linear(4,3) -> tanh -> Linear(3,2) written with tensor ops, parameters in PyTorch's order.
template <class T>
struct TinyModel {
  std::vector<hnn::Tensor<T>> params;
  explicit TinyModel(const hnn::test::ReferenceCase& c, const std::string& suffix = "init") {
    for (const char* name : kParamNames)
      params.push_back(c.tensor<T>(std::string(name) + "." + suffix).requires_grad_(true));
  }
  hnn::Tensor<T> forward(const hnn::Tensor<T>& x) const {
    auto h = (x.matmul(params[0].t()) + params[1]).tanh();
    return h.matmul(params[2].t()) + params[3];
  }
  hnn::Tensor<T> loss(const hnn::Tensor<T>& x, const hnn::Tensor<T>& y) const {
    auto diff = forward(x) - y;
    return (diff * diff).mean();
  }
};

std::unique_ptr<optim::Optimizer> make_optimizer(const nlohmann::json& params,
                                                 const std::vector<hnn::Tensor<double>>& ps) {
  const std::string kind = params["optimizer"].get<std::string>();
  const auto& o = params["options"];
  if (kind == "SGD") {
    optim::SGDOptions options(o["lr"].get<double>());
    options.momentum(o.value("momentum", 0.0))
        .dampening(o.value("dampening", 0.0))
        .weight_decay(o.value("weight_decay", 0.0))
        .nesterov(o.value("nesterov", false));
    return std::make_unique<optim::SGD<double>>(ps, options);
  }
  auto set_adam = [&](auto options) {
    if (o.contains("lr")) options.lr(o["lr"].get<double>());
    if (o.contains("betas")) options.betas({o["betas"][0].get<double>(), o["betas"][1].get<double>()});
    if (o.contains("eps")) options.eps(o["eps"].get<double>());
    if (o.contains("weight_decay")) options.weight_decay(o["weight_decay"].get<double>());
    if (o.contains("amsgrad")) options.amsgrad(o["amsgrad"].get<bool>());
    return options;
  };
  if (kind == "Adam") return std::make_unique<optim::Adam<double>>(ps, set_adam(optim::AdamOptions()));
  REQUIRE(kind == "AdamW");
  return std::make_unique<optim::AdamW<double>>(ps, set_adam(optim::AdamWOptions()));
}

/// Runs steps [first, last) of a case's trajectory, comparing parameters and losses with PyTorch's.
void run_steps(const hnn::test::ReferenceCase& c, const TinyModel<double>& model, optim::Optimizer& opt,
               int first, int last, double rtol) {
  auto x = c.tensor<double>("x"), y = c.tensor<double>("y");
  auto losses = c.tensor<double>("losses").to_vector();
  const auto& p = c.json()["params"];
  for (int k = first; k < last; ++k) {
    INFO("step " << k);
    if (!p["set_lr"].is_null() && k == p["set_lr_at"].get<int>()) opt.set_lr(p["set_lr"].get<double>());
    opt.zero_grad();
    auto loss = model.loss(x, y);
    loss.backward();
    opt.step();
    CHECK(loss.item() == Approx(losses[static_cast<size_t>(k)]).epsilon(rtol));
    for (size_t j = 0; j < 4; ++j)
      expect_close(model.params[j],
                   c.tensor<double>(std::string(kParamNames[j]) + ".step" + std::to_string(k)), rtol, -1,
                   kParamNames[j]);
  }
}

}  // namespace

TEST_CASE("10-step trajectories equal PyTorch's (double)", "[optim][reference]") {
  const auto names = refs().names("traj_");
  REQUIRE(names.size() == 13);
  for (const auto& name : names) {
    DYNAMIC_SECTION(name) {
      auto c = refs().get(name);
      INFO(c.call());
      TinyModel<double> model(c);
      auto opt = make_optimizer(c.json()["params"], model.params);
      run_steps(c, model, *opt, 0, 10, 1e-9);
      if (!c.json()["params"]["set_lr"].is_null())
        CHECK(opt->lr() == c.json()["params"]["set_lr"].get<double>());
    }
  }
}

TEST_CASE("float models train with the same spelling and follow PyTorch's double trajectory closely",
          "[optim]") {
  auto c = refs().get("traj_adam_amsgrad");
  TinyModel<float> model(c);
  optim::Adam opt(model.params, optim::AdamOptions(0.02).amsgrad(true));
  static_assert(std::is_same_v<decltype(opt), optim::Adam<float>>);
  optim::SGD sgd(model.params, optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4));
  static_assert(std::is_same_v<decltype(sgd), optim::SGD<float>>);
  optim::AdamW adamw(model.params);
  static_assert(std::is_same_v<decltype(adamw), optim::AdamW<float>>);
  CHECK(adamw.options().weight_decay() == 0.01);
  CHECK(adamw.lr() == 1e-3);
  auto x = c.tensor<float>("x"), y = c.tensor<float>("y");
  for (int k = 0; k < 10; ++k) {
    opt.zero_grad();
    model.loss(x, y).backward();
    opt.step();
  }
  for (size_t j = 0; j < 4; ++j)
    expect_close(model.params[j], c.tensor<double>(std::string(kParamNames[j]) + ".step9"), 1e-4, -1,
                 kParamNames[j]);
}

TEST_CASE("state_dict round trip: training continued from a loaded state follows the same trajectory",
          "[optim][state]") {
  for (const std::string name :
       {"traj_sgd_momentum", "traj_sgd_nesterov", "traj_adam_amsgrad", "traj_adamw", "traj_adam_set_lr"}) {
    DYNAMIC_SECTION(name) {
      auto c = refs().get(name);
      TinyModel<double> model(c);
      auto opt = make_optimizer(c.json()["params"], model.params);
      run_steps(c, model, *opt, 0, 6, 1e-9);
      optim::OptimizerState state = opt->state_dict();
      // A fresh model at step 5's weights and a fresh optimiser with default-ish options.
      TinyModel<double> resumed(c, "step5");
      auto fresh = make_optimizer(c.json()["params"], resumed.params);
      fresh->set_lr(123.0);  // overwritten by the loaded param_groups
      fresh->load_state_dict(state);
      CHECK(fresh->lr() == opt->lr());
      run_steps(c, resumed, *fresh, 6, 10, 1e-9);
    }
  }
}

TEST_CASE("state_dict holds PyTorch's group keys and state names", "[optim][state]") {
  auto w = hnn::ones<double>({2, 3}).requires_grad_(true), b = hnn::zeros<double>({3}).requires_grad_(true);
  optim::SGD sgd(std::vector<hnn::Tensor<double>>{w, b}, optim::SGDOptions(0.5).momentum(0.9).nesterov(true));
  auto before = sgd.state_dict();
  CHECK(before.tensors.empty());
  CHECK(before.meta["optimizer"] == "SGD");
  const auto& group = before.meta["param_groups"][0];
  CHECK(group["lr"] == 0.5);
  CHECK(group["momentum"] == 0.9);
  CHECK(group["dampening"] == 0.0);
  CHECK(group["weight_decay"] == 0.0);
  CHECK(group["nesterov"] == true);
  CHECK(group["params"] == nlohmann::json::array({0, 1}));
  w.sum().backward();  // only w gets a gradient: b has no state
  sgd.step();
  auto after = sgd.state_dict();
  REQUIRE(after.tensors.size() == 1);
  CHECK(after.tensors[0].first == "state.0.momentum_buffer");
  CHECK(after.tensors[0].second.shape() == hnn::Shape{2, 3});
  CHECK(after.tensors[0].second.to_vector() == std::vector<double>(6, 1.0));
  CHECK(b.to_vector() == std::vector<double>(3, 0.0));

  optim::Adam adam(std::vector<hnn::Tensor<double>>{w, b}, optim::AdamOptions(0.1).amsgrad(true));
  (w.sum() + b.sum()).backward();
  adam.step();
  auto s = adam.state_dict();
  std::vector<std::string> keys;
  for (const auto& [k, t] : s.tensors) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq",
                                         "state.0.max_exp_avg_sq", "state.1.step", "state.1.exp_avg",
                                         "state.1.exp_avg_sq", "state.1.max_exp_avg_sq"});
  CHECK(s.tensors[0].second.dtype() == hnn::Dtype::Float32);  // PyTorch 1.13: step is a float32 0-dim tensor
  CHECK(s.tensors[0].second.dim() == 0);
  CHECK(s.tensors[0].second.to_vector()[0] == 1.0);
  CHECK(s.meta["param_groups"][0]["betas"] == nlohmann::json::array({0.9, 0.999}));
  CHECK(s.meta["param_groups"][0]["amsgrad"] == true);
  // The state is a copy: stepping again does not change it.
  adam.step();
  CHECK(s.tensors[0].second.to_vector()[0] == 1.0);
}

TEST_CASE("load_state_dict rejects another optimiser, other parameter counts and wrong shapes",
          "[optim][state][errors]") {
  auto w = hnn::ones<double>({2, 3}).requires_grad_(true), b = hnn::zeros<double>({3}).requires_grad_(true);
  std::vector<hnn::Tensor<double>> both{w, b};
  optim::Adam adam(both, optim::AdamOptions(0.1));
  (w.sum() + b.sum()).backward();
  adam.step();
  auto state = adam.state_dict();

  optim::SGD sgd(both, optim::SGDOptions(0.1));
  CHECK_THROWS_WITH(sgd.load_state_dict(state),
                    Catch::Contains("belongs to optimizer 'Adam', expected 'SGD'"));
  optim::Adam one(std::vector<hnn::Tensor<double>>{w}, optim::AdamOptions(0.1));
  CHECK_THROWS_WITH(
      one.load_state_dict(state),
      Catch::Contains("doesn't match the size of optimizer's group (2 parameters, expected 1)"));
  optim::Adam swapped(std::vector<hnn::Tensor<double>>{b, w}, optim::AdamOptions(0.1));
  CHECK_THROWS_WITH(swapped.load_state_dict(state),
                    Catch::Contains("state entry 'state.0.exp_avg' has shape [2, 3], expected [3]"));
  auto bad = state;
  bad.tensors.emplace_back("state.7.exp_avg", hnn::AnyTensor<hnn::CPU>(hnn::zeros<double>({3})));
  CHECK_THROWS_WITH(adam.load_state_dict(bad),
                    Catch::Contains("names parameter 7 but the optimizer has 2 parameters"));
  bad = state;
  bad.tensors.emplace_back("state.1.velocity", hnn::AnyTensor<hnn::CPU>(hnn::zeros<double>({3})));
  CHECK_THROWS_WITH(adam.load_state_dict(bad), Catch::Contains("got 'velocity'"));
  bad = state;
  bad.meta["param_groups"][0]["lr"] = -1.0;
  CHECK_THROWS_WITH(adam.load_state_dict(bad), "Invalid learning rate: -1.0");
  CHECK(adam.lr() == 0.1);  // a failed load leaves the optimiser as it was
}

TEST_CASE("invalid options throw PyTorch's messages", "[optim][errors]") {
  std::vector<hnn::Tensor<float>> ps{hnn::zeros<float>({2}).requires_grad_(true)};
  CHECK_THROWS_AS(optim::SGD(ps, optim::SGDOptions(-0.1)), std::invalid_argument);
  CHECK_THROWS_WITH(optim::SGD(ps, optim::SGDOptions(-0.1)), "Invalid learning rate: -0.1");
  CHECK_THROWS_WITH(optim::SGD(ps, optim::SGDOptions(0.1).momentum(-0.5)), "Invalid momentum value: -0.5");
  CHECK_THROWS_WITH(optim::SGD(ps, optim::SGDOptions(0.1).weight_decay(-1e-4)),
                    "Invalid weight_decay value: -0.0001");
  CHECK_THROWS_WITH(optim::SGD(ps, optim::SGDOptions(0.1).nesterov(true)),
                    "Nesterov momentum requires a momentum and zero dampening");
  CHECK_THROWS_WITH(optim::SGD(ps, optim::SGDOptions(0.1).momentum(0.9).dampening(0.1).nesterov(true)),
                    "Nesterov momentum requires a momentum and zero dampening");
  CHECK_THROWS_WITH(optim::Adam(ps, optim::AdamOptions(-1.0)), "Invalid learning rate: -1.0");
  CHECK_THROWS_WITH(optim::Adam(ps, optim::AdamOptions().betas({1.0, 0.999})),
                    "Invalid beta parameter at index 0: 1.0");
  CHECK_THROWS_WITH(optim::Adam(ps, optim::AdamOptions().betas({0.9, -0.5})),
                    "Invalid beta parameter at index 1: -0.5");
  CHECK_THROWS_WITH(optim::Adam(ps, optim::AdamOptions().eps(-1e-8)),
                    Catch::StartsWith("Invalid epsilon value"));
  CHECK_THROWS_WITH(optim::AdamW(ps, optim::AdamWOptions().weight_decay(-0.01)),
                    "Invalid weight_decay value: -0.01");
  auto non_leaf = ps[0] * 2.0f;
  CHECK_THROWS_WITH(optim::SGD(std::vector<hnn::Tensor<float>>{non_leaf}, optim::SGDOptions(0.1)),
                    Catch::Contains("can't optimize a non-leaf Tensor"));
}

TEST_CASE("zero_grad zeroes gradients in place (or drops them); parameters without gradients are skipped",
          "[optim]") {
  auto w = hnn::full<double>({3}, 2.0).requires_grad_(true),
       unused = hnn::ones<double>({2}).requires_grad_(true);
  optim::SGD opt(std::vector<hnn::Tensor<double>>{w, unused}, optim::SGDOptions(0.5));
  (w * w).sum().backward();
  const double* grad_storage = w.grad().data();
  opt.step();
  CHECK(w.to_vector() == std::vector<double>(3, 0.0));  // 2 - 0.5 * 4
  CHECK(unused.to_vector() == std::vector<double>(2, 1.0));
  CHECK_FALSE(unused.grad().defined());
  opt.zero_grad();
  REQUIRE(w.grad().defined());
  CHECK(w.grad().data() == grad_storage);
  CHECK(w.grad().to_vector() == std::vector<double>(3, 0.0));
  opt.zero_grad(/*set_to_none=*/true);
  CHECK_FALSE(w.grad().defined());
  opt.step();  // nothing has a gradient: nothing moves
  CHECK(w.to_vector() == std::vector<double>(3, 0.0));
}

TEST_CASE("parameter groups keep their own options; set_lr sets every group", "[optim]") {
  auto a = hnn::ones<double>({2}).requires_grad_(true), b = hnn::ones<double>({2}).requires_grad_(true);
  optim::SGD opt(std::vector<hnn::Tensor<double>>{a}, optim::SGDOptions(0.1));
  opt.add_param_group({b}, optim::SGDOptions(0.01));
  REQUIRE(opt.num_param_groups() == 2);
  (a.sum() + b.sum()).backward();
  opt.step();
  CHECK(a.to_vector()[0] == Approx(0.9).epsilon(1e-15));
  CHECK(b.to_vector()[0] == Approx(0.99).epsilon(1e-15));
  CHECK(opt.state_dict().meta["param_groups"][1]["params"] == nlohmann::json::array({1}));
  opt.set_lr(0.2);
  CHECK(opt.group_lr(0) == 0.2);
  CHECK(opt.group_lr(1) == 0.2);
  opt.step();
  CHECK(a.to_vector()[0] == Approx(0.7).epsilon(1e-15));
  CHECK(b.to_vector()[0] == Approx(0.79).epsilon(1e-15));
}

TEST_CASE("large parameters (chunked, parallel under OpenMP) get the closed-form first updates", "[optim]") {
  hnn::Generator gen(3);
  const int64_t n = 200003;
  auto p0 = hnn::randn<double>({n}, gen), g = hnn::randn<double>({n}, gen);
  auto adam_param = p0.clone().requires_grad_(true), sgd_param = p0.clone().requires_grad_(true);
  adam_param.set_grad(g.clone());
  sgd_param.set_grad(g.clone());
  optim::Adam adam(std::vector<hnn::Tensor<double>>{adam_param}, optim::AdamOptions(0.01));
  optim::SGD sgd(std::vector<hnn::Tensor<double>>{sgd_param},
                 optim::SGDOptions(0.1).momentum(0.9).dampening(0.5));
  adam.step();  // step 1: m_hat = g, v_hat = g^2, so p -= lr * g / (|g| + eps)
  sgd.step();   // buf = g
  sgd.step();   // buf = 0.9 g + 0.5 g = 1.4 g; p = p0 - 0.1 g - 0.14 g
  auto pv = p0.to_vector(), gv = g.to_vector(), av = adam_param.to_vector(), sv = sgd_param.to_vector();
  double adam_err = 0, sgd_err = 0;
  for (size_t i = 0; i < pv.size(); ++i) {
    adam_err = std::max(adam_err, std::abs(av[i] - (pv[i] - 0.01 * gv[i] / (std::abs(gv[i]) + 1e-8))));
    sgd_err = std::max(sgd_err, std::abs(sv[i] - (pv[i] - 0.24 * gv[i])));
  }
  CHECK(adam_err < 1e-15);
  CHECK(sgd_err < 1e-14);
}
