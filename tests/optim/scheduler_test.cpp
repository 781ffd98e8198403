// Tests for include/hnn/optim/lr_scheduler.hpp: ReduceLROnPlateau's learning-rate sequence for given metric
// sequences (mode min/max, threshold rel/abs, cooldown, min_lr, eps, NaN metrics) and StepLR's, against
// PyTorch (tools/references/optim.py); option errors.
#include <catch2/catch.hpp>
#include <hnn/optim/adam.hpp>
#include <hnn/optim/lr_scheduler.hpp>
#include <hnn/optim/sgd.hpp>
#include <hnn/tensor.hpp>

#include "reference.hpp"

namespace optim = hnn::optim;

namespace {

const hnn::test::References& refs() {
  static hnn::test::References r("optim.json");
  return r;
}

optim::ReduceLROnPlateauOptions plateau_options(const nlohmann::json& o) {
  optim::ReduceLROnPlateauOptions options;
  if (o.contains("mode")) options.mode(o["mode"].get<std::string>());
  if (o.contains("factor")) options.factor(o["factor"].get<double>());
  if (o.contains("patience")) options.patience(o["patience"].get<int64_t>());
  if (o.contains("threshold")) options.threshold(o["threshold"].get<double>());
  if (o.contains("threshold_mode")) options.threshold_mode(o["threshold_mode"].get<std::string>());
  if (o.contains("cooldown")) options.cooldown(o["cooldown"].get<int64_t>());
  if (o.contains("min_lr")) options.min_lr(o["min_lr"].get<double>());
  if (o.contains("eps")) options.eps(o["eps"].get<double>());
  return options;
}

}  // namespace

TEST_CASE("ReduceLROnPlateau follows PyTorch's lr sequence", "[scheduler][reference]") {
  const auto names = refs().names("plateau_");
  REQUIRE(names.size() == 6);
  for (const auto& name : names) {
    DYNAMIC_SECTION(name) {
      auto c = refs().get(name);
      INFO(c.call());
      std::vector<hnn::Tensor<double>> ps{hnn::zeros<double>({2}).requires_grad_(true)};
      optim::SGD opt(ps, optim::SGDOptions(c.param<double>("initial_lr")));
      optim::ReduceLROnPlateau scheduler(opt, plateau_options(c.json()["params"]["options"]));
      auto metrics = c.tensor<double>("metrics").to_vector();
      auto lrs = c.tensor<double>("lrs").to_vector();
      for (size_t k = 0; k < metrics.size(); ++k) {
        INFO("step " << k << " metric " << metrics[k]);
        scheduler.step(metrics[k]);
        CHECK(opt.lr() == Approx(lrs[k]).epsilon(1e-15));
        CHECK(scheduler.get_last_lr().at(0) == opt.lr());
      }
    }
  }
}

TEST_CASE("StepLR follows PyTorch's lr sequence", "[scheduler][reference]") {
  for (const auto& name : refs().names("step_lr_")) {
    DYNAMIC_SECTION(name) {
      auto c = refs().get(name);
      INFO(c.call());
      std::vector<hnn::Tensor<float>> ps{hnn::zeros<float>({2}).requires_grad_(true)};
      optim::Adam opt(ps, optim::AdamOptions(c.param<double>("initial_lr")));
      optim::StepLR scheduler(opt, c.param<int64_t>("step_size"), c.param<double>("gamma"));
      auto lrs = c.tensor<double>("lrs").to_vector();
      CHECK(opt.lr() == lrs[0]);
      for (size_t k = 1; k < lrs.size(); ++k) {
        INFO("after step " << k);
        scheduler.step();
        CHECK(opt.lr() == Approx(lrs[k]).epsilon(1e-15));
        CHECK(scheduler.last_epoch() == static_cast<int64_t>(k));
      }
    }
  }
}

TEST_CASE("StepLR decays every parameter group and uses the default gamma 0.1", "[scheduler]") {
  auto a = hnn::zeros<double>({1}).requires_grad_(true), b = hnn::zeros<double>({1}).requires_grad_(true);
  optim::SGD opt(std::vector<hnn::Tensor<double>>{a}, optim::SGDOptions(1.0));
  opt.add_param_group({b}, optim::SGDOptions(0.5));
  optim::StepLR scheduler(opt, 2);
  scheduler.step();
  CHECK(opt.group_lr(0) == 1.0);
  scheduler.step();
  CHECK(opt.group_lr(0) == Approx(0.1));
  CHECK(opt.group_lr(1) == Approx(0.05));
  CHECK(scheduler.base_lrs() == std::vector<double>{1.0, 0.5});
}

TEST_CASE("ReduceLROnPlateau defaults and state", "[scheduler]") {
  optim::ReduceLROnPlateauOptions defaults;
  CHECK(defaults.mode() == "min");
  CHECK(defaults.factor() == 0.1);
  CHECK(defaults.patience() == 10);
  CHECK(defaults.threshold() == 1e-4);
  CHECK(defaults.threshold_mode() == "rel");
  CHECK(defaults.cooldown() == 0);
  CHECK(defaults.min_lr() == 0.0);
  CHECK(defaults.eps() == 1e-8);
  std::vector<hnn::Tensor<double>> ps{hnn::zeros<double>({1}).requires_grad_(true)};
  optim::SGD opt(ps, optim::SGDOptions(1.0));
  optim::ReduceLROnPlateau scheduler(opt, optim::ReduceLROnPlateauOptions().patience(1).cooldown(1));
  CHECK(std::isinf(scheduler.best()));
  scheduler.step(1.0);
  CHECK(scheduler.best() == 1.0);
  scheduler.step(1.0);
  CHECK(scheduler.num_bad_epochs() == 1);
  scheduler.step(1.0);
  CHECK(opt.lr() == Approx(0.1));
  CHECK(scheduler.in_cooldown());
  CHECK(scheduler.num_bad_epochs() == 0);
}

TEST_CASE("ReduceLROnPlateau rejects bad options with PyTorch's messages", "[scheduler][errors]") {
  std::vector<hnn::Tensor<double>> ps{hnn::zeros<double>({1}).requires_grad_(true)};
  optim::SGD opt(ps, optim::SGDOptions(1.0));
  CHECK_THROWS_AS(optim::ReduceLROnPlateau(opt, optim::ReduceLROnPlateauOptions().factor(1.0)),
                  std::invalid_argument);
  CHECK_THROWS_WITH(optim::ReduceLROnPlateau(opt, optim::ReduceLROnPlateauOptions().factor(1.0)),
                    Catch::Contains("Factor should be < 1.0."));
  CHECK_THROWS_WITH(optim::ReduceLROnPlateau(opt, optim::ReduceLROnPlateauOptions().mode("lowest")),
                    Catch::Contains("mode lowest is unknown!"));
  CHECK_THROWS_WITH(
      optim::ReduceLROnPlateau(opt, optim::ReduceLROnPlateauOptions().threshold_mode("relative")),
      Catch::Contains("threshold mode relative is unknown!"));
  CHECK_THROWS_WITH(optim::StepLR(opt, 0), Catch::Contains("StepLR: step_size must be positive, got 0"));
}
