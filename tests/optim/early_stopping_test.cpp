// Tests for include/hnn/optim/early_stopping.hpp: patience and min_delta counting, the deep copy of the best
// state and its restoration into the model's own storage, restore_best_weights off, bad options.
#include <catch2/catch.hpp>
#include <hnn/nn/module.hpp>
#include <hnn/optim/early_stopping.hpp>
#include <hnn/tensor.hpp>

namespace optim = hnn::optim;

namespace {

/// y = x * weight + bias with a buffer, enough to give a state_dict with parameters and buffers.
class Scale : public hnn::nn::Cloneable<Scale, double> {
 public:
  Scale() {
    weight_ = this->register_parameter("weight", hnn::ones<double>({3}));
    bias_ = this->register_parameter("bias", hnn::zeros<double>({3}));
    steps_ = this->register_buffer("steps", hnn::zeros<int64_t>(hnn::Shape{}));
  }
  hnn::Tensor<double> forward(const hnn::Tensor<double>& x) override { return x * weight() + bias(); }
  std::string name() const override { return "Scale"; }
  hnn::Tensor<double>& weight() { return this->parameter(weight_); }
  hnn::Tensor<double>& bias() { return this->parameter(bias_); }
  hnn::Tensor<int64_t> steps() const { return this->buffer(steps_).as<int64_t>(); }
  /// Moves every value so each epoch's state differs.
  void perturb(double by) {
    hnn::NoGradGuard guard;
    weight().copy_(weight() + by);
    bias().copy_(bias() - by);
    steps().data()[0] += 1;
  }

 private:
  size_t weight_, bias_, steps_;
};

}  // namespace

TEST_CASE("EarlyStopping stops after `patience` epochs without an improvement larger than min_delta",
          "[early_stopping]") {
  Scale model;
  optim::EarlyStopping stopper(3, 0.01, true);
  CHECK_FALSE(stopper.step(1.0, model));  // first epoch always improves on +inf
  CHECK(stopper.best_epoch() == 1);
  CHECK_FALSE(stopper.step(0.995, model));  // better, but not by more than min_delta
  CHECK(stopper.counter() == 1);
  CHECK(stopper.best_loss() == 1.0);
  CHECK_FALSE(stopper.step(0.9, model));  // a real improvement resets the counter
  CHECK(stopper.counter() == 0);
  CHECK(stopper.best_epoch() == 3);
  CHECK_FALSE(stopper.step(0.95, model));
  CHECK_FALSE(stopper.step(std::nan(""), model));  // NaN never improves
  CHECK(stopper.counter() == 2);
  CHECK(stopper.step(0.9, model));  // equal is not better: third bad epoch
  CHECK(stopper.should_stop());
  CHECK(stopper.best_loss() == 0.9);
}

TEST_CASE("EarlyStopping keeps a deep copy of the best state and restores it in place", "[early_stopping]") {
  Scale model;
  optim::EarlyStopping stopper(2);  // min_delta 0, restore_best_weights true
  CHECK(stopper.patience() == 2);
  CHECK(stopper.min_delta() == 0.0);
  CHECK(stopper.restore_best_weights());
  CHECK_FALSE(stopper.restore_best(model));  // nothing recorded yet
  stopper.step(2.0, model);
  model.perturb(0.5);
  stopper.step(1.0, model);  // best: weight 1.5, bias -0.5, steps 1
  model.perturb(0.25);
  stopper.step(1.5, model);
  model.perturb(0.25);
  CHECK(stopper.step(1.2, model));
  // The snapshot did not follow the later in-place changes.
  CHECK(stopper.best_state().at("weight").to_vector() == std::vector<double>(3, 1.5));
  CHECK(model.weight().to_vector() == std::vector<double>(3, 2.0));
  const double* weight_storage = model.weight().data();
  REQUIRE(stopper.restore_best(model));
  CHECK(model.weight().to_vector() == std::vector<double>(3, 1.5));
  CHECK(model.bias().to_vector() == std::vector<double>(3, -0.5));
  CHECK(model.steps().item() == 1);
  CHECK(model.weight().data() == weight_storage);  // copied into the model's storage (optimisers keep theirs)
  CHECK(model.weight().requires_grad());
}

TEST_CASE("EarlyStopping without restore_best_weights keeps no copy", "[early_stopping]") {
  Scale model;
  optim::EarlyStopping stopper(1, 0.0, false);
  stopper.step(1.0, model);
  model.perturb(1.0);
  CHECK(stopper.step(1.0, model));
  CHECK(stopper.best_state().empty());
  CHECK_FALSE(stopper.restore_best(model));
  CHECK(model.weight().to_vector() == std::vector<double>(3, 2.0));
}

TEST_CASE("EarlyStopping rejects negative patience or min_delta", "[early_stopping][errors]") {
  CHECK_THROWS_WITH(optim::EarlyStopping(-1),
                    Catch::Contains("EarlyStopping: patience must be non-negative, got -1"));
  CHECK_THROWS_WITH(optim::EarlyStopping(3, -0.1),
                    Catch::Contains("EarlyStopping: min_delta must be non-negative, got -0.1"));
}
