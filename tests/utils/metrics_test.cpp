// Tests for include/hnn/utils/metrics.hpp: accuracy on known inputs (class indices, one-hot and
// probability targets, binary probabilities, ties, non-contiguous logits, shape errors), RunningMean,
// Stopwatch and the MetricsLogger CSV.
#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <hnn/tensor.hpp>
#include <hnn/utils/metrics.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using hnn::utils::accuracy;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("accuracy with class-index targets", "[utils][metrics]") {
  // argmax per row: 1, 0, 2, 0 (a tie between 0 and 2 picks the first, as torch.argmax).
  auto logits = hnn::tensor<float>(
      {0.1f, 0.7f, 0.2f, 2.0f, -1.0f, 0.0f, -3.0f, -2.0f, -1.0f, 5.0f, 1.0f, 5.0f}, {4, 3});
  auto targets = hnn::tensor<int64_t>({1, 0, 1, 2}, {4});
  CHECK(hnn::utils::count_correct(logits, targets) == 2);
  CHECK(accuracy(logits, targets) == 0.5);
  // The same scores transposed from a (3, 4) tensor: a non-contiguous view gives the same answer.
  auto transposed = logits.transpose(0, 1).contiguous().transpose(0, 1);
  REQUIRE_FALSE(transposed.is_contiguous());
  CHECK(accuracy(transposed, targets) == 0.5);
  CHECK(accuracy(logits.template cast<double>(), targets) == 0.5);
  CHECK_THROWS_WITH(accuracy(logits, hnn::tensor<int64_t>({1, 0}, {2})),
                    Catch::Contains("class-index targets of shape (4)") && Catch::Contains("[2]"));
  CHECK_THROWS_AS(accuracy(hnn::zeros<float>({4}), targets), std::invalid_argument);
}

TEST_CASE("accuracy with one-hot or probability targets", "[utils][metrics]") {
  auto logits = hnn::tensor<float>({0.1f, 0.7f, 0.2f, 2.0f, -1.0f, 0.0f, -3.0f, -2.0f, -1.0f}, {3, 3});
  auto one_hot = hnn::tensor<float>({0, 1, 0, 0, 0, 1, 0, 0, 1}, {3, 3});
  CHECK(accuracy(logits, one_hot) == Approx(2.0 / 3.0));
  auto soft = hnn::tensor<float>({0.2f, 0.5f, 0.3f, 0.6f, 0.3f, 0.1f, 0.1f, 0.1f, 0.8f}, {3, 3});
  CHECK(accuracy(logits, soft) == 1.0);
  CHECK_THROWS_WITH(accuracy(logits, hnn::zeros<float>({3, 2})),
                    Catch::Contains("shaped like the predictions"));
}

TEST_CASE("accuracy with binary probabilities", "[utils][metrics]") {
  auto probs = hnn::tensor<double>({0.9, 0.4, 0.5, 0.1, 0.7}, {5});
  auto labels = hnn::tensor<double>({1, 0, 0, 0, 0}, {5});
  CHECK(accuracy(probs, labels) == Approx(3.0 / 5.0));  // 0.5 counts as positive, as (p >= 0.5)
  CHECK(accuracy(probs.reshape({5, 1}), labels.reshape({5, 1})) == Approx(3.0 / 5.0));
  CHECK(accuracy(probs, labels, 0.75) == 1.0);  // 0.5 and 0.7 now count as negative
  CHECK(accuracy(hnn::zeros<double>({0}), hnn::zeros<double>({0})) == 0.0);
}

TEST_CASE("RunningMean weights by batch size; Stopwatch measures", "[utils][metrics]") {
  hnn::utils::RunningMean m;
  CHECK(std::isnan(m.mean()));
  m.add(1.0, 64);
  m.add(4.0, 32);  // (64 + 128) / 96 = 2
  CHECK(m.mean() == 2.0);
  CHECK(m.total_weight() == 96);
  m.reset();
  m.add(3.0);
  CHECK(m.mean() == 3.0);

  hnn::utils::Stopwatch watch;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double lap = watch.lap();
  CHECK(lap >= 0.019);
  CHECK(watch.seconds() >= lap);
  CHECK(watch.lap() < lap + 1.0);
}

TEST_CASE("MetricsLogger writes a tidy CSV, one flushed row per log", "[utils][metrics]") {
  {
    hnn::utils::MetricsLogger log("metrics.csv");
    log.log({{"epoch", 1},
             {"train_loss", 0.5},
             {"train_acc", 0.8125},
             {"test_loss", 0.625},
             {"test_acc", 0.75},
             {"lr", 0.001},
             {"seconds", 1.5}});
    // Flushed: the row is on disk before the logger closes.
    CHECK(read_text("metrics.csv") ==
          "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n1,0.5,0.8125,0.625,0.75,0.001,1.5\n");
    log.log({{"epoch", 2}, {"train_loss", std::nan("")}});
    log.log(std::vector<double>{3, 0.25, 0.9, 0.3, 0.875, 1e-4, 2});
    CHECK_THROWS_WITH(log.log({{"val_loss", 1.0}}), Catch::Contains("unknown column 'val_loss'"));
    CHECK_THROWS_WITH(log.log(std::vector<double>{1, 2}), Catch::Contains("expected 7 values, got 2"));
  }
  CHECK(read_text("metrics.csv") ==
        "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds\n"
        "1,0.5,0.8125,0.625,0.75,0.001,1.5\n"
        "2,nan,,,,,\n"
        "3,0.25,0.9,0.3,0.875,1e-04,2\n");
  hnn::utils::MetricsLogger custom("custom.csv", {"fold", "mse"});
  custom.log(std::vector<double>{0, 12.5});
  CHECK(read_text("custom.csv") == "fold,mse\n0,12.5\n");
}
