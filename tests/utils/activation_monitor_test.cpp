// Tests for include/hnn/utils/activation_monitor.hpp: the statistics of a fixed input equal hand
// computations and PyTorch's (torch.quantile, torch.std; fixtures of tools/references/activation_monitor.py)
// in float and double; default and named points; every-k-th-step recording with no hooks in between;
// evaluation and no-grad forwards skipped; gradient norms; no graph kept alive; the tidy CSV, the SVGs,
// and the errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <hnn/nn.hpp>
#include <hnn/utils/activation_monitor.hpp>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "reference.hpp"

namespace nn = hnn::nn;
using hnn::utils::ActivationMonitor;
using hnn::utils::ActivationMonitorOptions;
using hnn::utils::MonitoredKind;
using hnn::utils::MonitorPoint;

namespace {

const hnn::test::References& refs() {
  static hnn::test::References r("activation_monitor.json");
  return r;
}

hnn::Tensor<double> column(const std::vector<double>& values) {
  return hnn::tensor<double>(values, {static_cast<int64_t>(values.size())});
}

/// One recorded step of `model` on `x`: forward (training mode, grad on), backward of the output's sum,
/// step().
template <class T>
void train_step(nn::Module<T>& model, ActivationMonitor<T>& monitor, const hnn::Tensor<T>& x) {
  model.zero_grad();
  model(x).sum().backward();
  monitor.step();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::filesystem::path scratch_dir() {
  auto dir = std::filesystem::temp_directory_path() / "hnn_activation_monitor_test";
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

TEST_CASE("statistics of a fixed input equal hand computations", "[utils][monitor]") {
  // Sorted: -6 -4 -1 0 0.5 2 3 4.5 (n = 8). Percentile q sits at rank q/100 * 7 between order statistics.
  const auto x = hnn::tensor<double>({0.5, -6, 3, -1, 4.5, 0, 2, -4}, {2, 4});
  nn::Sequential<double> net{nn::Sigmoid<double>()};
  ActivationMonitor monitor(net, ActivationMonitorOptions().percentiles({0, 25, 50, 90, 100}));
  net(x);
  const auto& s = monitor.point("0", MonitorPoint::input);
  REQUIRE(s.history.size() == 1);
  const auto& r = s.history[0];
  CHECK(r.step == 0);
  CHECK(r.count == 8);
  CHECK(r.mean == Approx(-0.125).epsilon(1e-15));  // (-11 + 10) / 8
  // Squared deviations from -0.125 sum to 86.375; unbiased: / 7.
  CHECK(r.std == Approx(std::sqrt(86.375 / 7)).epsilon(1e-14));
  REQUIRE(r.percentiles.size() == 5);
  CHECK(r.percentiles[0] == -6);                            // rank 0
  CHECK(r.percentiles[1] == Approx(-1.75).epsilon(1e-15));  // rank 1.75: -4 + 0.75 * 3
  CHECK(r.percentiles[2] == Approx(0.25).epsilon(1e-15));   // rank 3.5: 0 + 0.5 * 0.5
  CHECK(r.percentiles[3] == Approx(3.45).epsilon(1e-15));   // rank 6.3: 3 + 0.3 * 1.5
  CHECK(r.percentiles[4] == 4.5);                           // rank 7
  CHECK(r.saturated == 0.25);                               // |x| > 4: -6 and 4.5 (not -4)
  CHECK(monitor.stat_names() ==
        std::vector<std::string>{"count", "mean", "std", "p0", "p25", "p50", "p90", "p100", "saturated"});
  CHECK(monitor.series("0", MonitorPoint::input, "p25") == std::vector<double>{r.percentiles[1]});

  // ReLU counts the units whose output is zero (x <= 0): -6, -4, -1, 0. Tanh uses the |x| threshold.
  nn::Sequential<double> relu_net{nn::ReLU<double>()}, tanh_net{nn::Tanh<double>()};
  ActivationMonitor relu_monitor(relu_net),
      tanh_monitor(tanh_net, ActivationMonitorOptions().saturation_threshold(2.5));
  relu_net(x);
  tanh_net(x);
  CHECK(relu_monitor.series("0", MonitorPoint::input, "saturated") == std::vector<double>{0.5});
  CHECK(tanh_monitor.series("0", MonitorPoint::input, "saturated") ==
        std::vector<double>{0.5});  // -6 -4 4.5 3
  // Percentiles whose ranks fall between the same two order statistics reuse them.
  nn::Sequential<double> close_net{nn::Sigmoid<double>()};
  ActivationMonitor close(close_net, ActivationMonitorOptions().percentiles({50, 50.001, 57.15}));
  close_net(x);
  const auto& close_values = close.point("0", MonitorPoint::input).history.at(0).percentiles;
  CHECK(close_values[0] == Approx(0.25).epsilon(1e-15));
  CHECK(close_values[1] == Approx(0.5 * 0.50007).epsilon(1e-12));  // rank 3.50007
  CHECK(close_values[2] == Approx(0.50075).epsilon(1e-12));        // rank 4.0005: 0.5 + 0.0005 * 1.5
  // The default percentiles 1, 15.87, 50, 84.13, 99; one value is every percentile and has no std.
  relu_monitor.step();
  relu_net(hnn::tensor<double>({7}, {1, 1}));
  const auto& one = relu_monitor.point("0", MonitorPoint::input).history.back();
  CHECK(one.percentiles == std::vector<double>(5, 7.0));
  CHECK(std::isnan(one.std));
  CHECK(one.saturated == 0);
}

TEMPLATE_TEST_CASE("statistics equal PyTorch's mean, std and torch.quantile", "[utils][monitor][reference]",
                   float, double) {
  const double rtol = hnn::test::default_rtol<TestType>();
  for (const auto& name : refs().names()) {
    const auto c = refs().get(name);
    INFO("case " << name << ": " << c.call());
    const auto x = c.template tensor<TestType>("x");
    const auto quantiles = c.template tensor<double>("quantiles").to_vector();
    const double mean = c.template tensor<double>("mean").item();
    const double expected_std = c.template tensor<double>("std").item();
    const bool batch_norm = name.rfind("bn2d", 0) == 0;
    hnn::utils::MonitoredSeries series;
    std::vector<double> relu_zero;
    if (batch_norm) {
      nn::Sequential<TestType> net{nn::BatchNorm2d<TestType>(x.size(1))};
      ActivationMonitor monitor(net);
      net(x);
      series = monitor.point("0", MonitorPoint::output);
    } else {
      nn::Sequential<TestType> net{nn::Sigmoid<TestType>()}, relu_net{nn::ReLU<TestType>()};
      ActivationMonitor monitor(net), relu_monitor(relu_net);
      net(x);
      relu_net(x);
      series = monitor.point("0", MonitorPoint::input);
      relu_zero = relu_monitor.series("0", MonitorPoint::input, "saturated");
      CHECK(relu_zero == std::vector<double>{c.template tensor<double>("relu_zero").item()});
    }
    REQUIRE(series.history.size() == 1);
    const auto& r = series.history[0];
    CHECK(r.count == x.numel());
    // A batch norm output's mean is 0 up to rounding: compare it on the scale of its std.
    const double mean_atol = batch_norm ? rtol * 10 : rtol * std::abs(mean);
    if (std::isnan(mean))
      CHECK(std::isnan(r.mean));
    else
      CHECK(std::abs(r.mean - mean) <= mean_atol + 1e-300);
    if (std::isnan(expected_std))
      CHECK(std::isnan(r.std));
    else
      CHECK(r.std == Approx(expected_std).epsilon(batch_norm ? 10 * rtol : rtol));
    // Float inputs are exact float32 values, so the percentiles are exact too up to the interpolation's
    // rounding; batch norm's float output carries its own rounding (about 1e-6 of the std).
    hnn::test::expect_close(column(r.percentiles), column(quantiles), batch_norm ? 20 * rtol : rtol, -1.0,
                            "percentiles");
    if (!batch_norm) CHECK(r.saturated == c.template tensor<double>("saturated_sigmoid").item());
  }
}

TEST_CASE("large tensors: the bucketed selection equals percentiles of the sorted values",
          "[utils][monitor]") {
  std::mt19937 rng(12);
  std::normal_distribution<float> normal(0.5f, 3.0f);
  std::uniform_int_distribution<int> small_int(0, 5);
  std::exponential_distribution<float> exponential(0.1f);
  const std::vector<double> percentiles{0, 1, 15.87, 50, 50.001, 84.13, 99, 100};
  auto reference = [&](std::vector<float> v) {
    std::sort(v.begin(), v.end());
    std::vector<double> out;
    const double last = static_cast<double>(v.size() - 1);
    for (double q : percentiles) {
      const double rank = q / 100 * last;
      const auto below = static_cast<size_t>(rank);
      const size_t above = std::min(below + 1, v.size() - 1);
      out.push_back(hnn::utils::detail::lerp(v[below], v[above], rank - static_cast<double>(below)));
    }
    return out;
  };
  std::map<std::string, std::function<float(size_t)>> draws{
      {"normal", [&](size_t) { return normal(rng); }},
      {"integers (ties)", [&](size_t) { return static_cast<float>(small_int(rng)); }},
      {"mostly zeros", [&](size_t i) { return i % 10 == 0 ? normal(rng) : 0.0f; }},
      {"exponential with outliers", [&](size_t i) { return i % 1000 == 7 ? 1e6f : exponential(rng); }},
      {"two values", [&](size_t i) { return i % 3 == 0 ? -1.0f : 2.0f; }},
      {"infinities", [&](size_t i) { return i == 5   ? INFINITY
                                            : i == 9 ? -INFINITY
                                                     : normal(rng); }},
  };
  std::vector<float> scratch;
  for (const auto& [name, draw] : draws)
    for (size_t n : {2047u, 2048u, 50000u}) {
      INFO(name << ", " << n << " values");
      std::vector<float> values(n);
      for (size_t i = 0; i < n; ++i) values[i] = draw(i);
      const auto before = values;
      const auto stats = hnn::utils::detail::describe(values.data(), static_cast<int64_t>(n), percentiles,
                                                      MonitoredKind::other, 4.0, scratch);
      CHECK(values == before);  // read, never reordered
      // Bit-for-bit the same, NaN included (torch's lerp between -inf and -inf gives NaN too).
      const auto expected = reference(values);
      REQUIRE(stats.percentiles.size() == expected.size());
      for (size_t i = 0; i < expected.size(); ++i) {
        INFO("percentile " << percentiles[i] << ": " << stats.percentiles[i] << " vs " << expected[i]);
        CHECK((stats.percentiles[i] == expected[i] ||
               (std::isnan(stats.percentiles[i]) && std::isnan(expected[i]))));
      }
    }
}

TEST_CASE("default points: batch norm input and output, activation inputs; named modules instead",
          "[utils][monitor]") {
  hnn::manual_seed(1);
  nn::Sequential<float> net{nn::Linear(5, 6), nn::BatchNorm1d(6), nn::Sigmoid(), nn::Linear(6, 4),
                            nn::ReLU(),       nn::Linear(4, 3),   nn::Tanh()};
  ActivationMonitor monitor(net);
  const auto& points = monitor.points();
  REQUIRE(points.size() == 5);
  struct Expected {
    std::string layer, module;
    MonitoredKind kind;
    MonitorPoint point;
  };
  const std::vector<Expected> expected{{"1", "BatchNorm1d", MonitoredKind::batch_norm, MonitorPoint::input},
                                       {"1", "BatchNorm1d", MonitoredKind::batch_norm, MonitorPoint::output},
                                       {"2", "Sigmoid", MonitoredKind::sigmoid, MonitorPoint::input},
                                       {"4", "ReLU", MonitoredKind::relu, MonitorPoint::input},
                                       {"6", "Tanh", MonitoredKind::tanh, MonitorPoint::input}};
  for (size_t i = 0; i < points.size(); ++i) {
    INFO("point " << i);
    CHECK(points[i].layer == expected[i].layer);
    CHECK(points[i].module == expected[i].module);
    CHECK(points[i].kind == expected[i].kind);
    CHECK(points[i].point == expected[i].point);
  }
  hnn::Generator gen(2);
  const auto x = hnn::randn<float>({32, 5}, gen) * 3.0f + 1.0f;
  net(x);
  // The batch norm output is the sigmoid's input (the same tensor, described once).
  const auto& bn_out = monitor.point("1", MonitorPoint::output).history.at(0);
  const auto& sigmoid_in = monitor.point("2", MonitorPoint::input).history.at(0);
  CHECK(bn_out.percentiles == sigmoid_in.percentiles);
  CHECK(bn_out.mean == sigmoid_in.mean);
  CHECK(std::isnan(bn_out.saturated));
  CHECK(!std::isnan(sigmoid_in.saturated));
  // Normalised per feature: overall mean 0 and, over 32 * 6 values each of biased variance ~1, an unbiased
  // std of sqrt(192 / 191).
  CHECK(std::abs(bn_out.mean) < 1e-6);
  CHECK(bn_out.std == Approx(std::sqrt(192.0 / 191.0)).epsilon(1e-4));
  // The batch norm input is the first Linear's output.
  const auto linear_out = net[0](x).to_vector();
  double mean = 0;
  for (float v : linear_out) mean += v;
  CHECK(monitor.point("1", MonitorPoint::input).history.at(0).mean == Approx(mean / 192).epsilon(1e-6));

  ActivationMonitor named(net, ActivationMonitorOptions().modules({"3", "2"}));
  REQUIRE(named.points().size() == 3);
  CHECK(named.points()[0].layer == "3");
  CHECK(named.points()[0].point == MonitorPoint::input);
  CHECK(named.points()[1].layer == "3");
  CHECK(named.points()[1].point == MonitorPoint::output);
  CHECK(named.points()[2].layer == "2");
  net(x);
  CHECK(named.series("3", MonitorPoint::output, "count") == std::vector<double>{128});
  CHECK(std::isnan(named.series("3", MonitorPoint::input, "saturated").at(0)));
}

TEST_CASE("every k-th step is recorded; no hooks stay attached in between", "[utils][monitor]") {
  hnn::manual_seed(4);
  nn::Sequential<double> net{nn::Linear<double>(3, 4), nn::BatchNorm1d<double>(4), nn::Sigmoid<double>(),
                             nn::Linear<double>(4, 1)};
  ActivationMonitor monitor(net, ActivationMonitorOptions().every(3));
  hnn::Generator gen(5);
  std::map<int64_t, double> expected_grad_norm;  // of 3.weight at each recorded step
  for (int64_t step = 0; step < 8; ++step) {
    CHECK(monitor.current_step() == step);
    CHECK(monitor.recording() == (step % 3 == 0));
    CHECK(monitor.attached() == (step % 3 == 0));
    const auto x = hnn::randn<double>({6, 3}, gen);
    net.zero_grad();
    net(x).sum().backward();
    double squares = 0;
    for (double g : net[3].named_parameters()[0].second.grad().to_vector()) squares += g * g;
    if (step % 3 == 0) expected_grad_norm[step] = std::sqrt(squares);
    monitor.step();
  }
  CHECK(monitor.steps("2", MonitorPoint::input) == std::vector<int64_t>{0, 3, 6});
  CHECK(monitor.steps("1", MonitorPoint::output) == std::vector<int64_t>{0, 3, 6});
  const auto& gradients = monitor.gradient_norms();
  std::vector<std::string> names;
  for (const auto& g : gradients) names.push_back(g.parameter);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"});
  CHECK(gradients[2].module == "BatchNorm1d");
  const auto& w3 = gradients[4];
  REQUIRE(w3.steps == std::vector<int64_t>{0, 3, 6});
  for (size_t i = 0; i < w3.steps.size(); ++i)
    CHECK(w3.l2_norm[i] == Approx(expected_grad_norm[w3.steps[i]]).epsilon(1e-14));
}

TEST_CASE("evaluation and no-grad forwards are skipped unless record_eval; the first training forward wins",
          "[utils][monitor]") {
  nn::Sequential<double> net{nn::Sigmoid<double>()};
  ActivationMonitor monitor(net);
  const auto a = hnn::tensor<double>({1, 2, 3}, {1, 3}), b = hnn::tensor<double>({10, 20, 30}, {1, 3});
  net.eval();
  net(b);
  {
    hnn::NoGradGuard no_grad;
    net.train();
    net(b);
  }
  CHECK(monitor.point("0", MonitorPoint::input).history.empty());
  net(a);
  net(b);  // same step: ignored
  CHECK(monitor.series("0", MonitorPoint::input, "mean") == std::vector<double>{2});
  monitor.step();
  net(b);
  CHECK(monitor.series("0", MonitorPoint::input, "mean") == std::vector<double>{2, 20});

  ActivationMonitor everything(net, ActivationMonitorOptions().record_eval(true));
  net.eval();
  hnn::InferenceMode inference;
  net(b);
  CHECK(everything.series("0", MonitorPoint::input, "mean") == std::vector<double>{20});
}

TEST_CASE("the monitor keeps no graph alive and detaches when removed or destroyed", "[utils][monitor]") {
  hnn::manual_seed(6);
  nn::Sequential<float> net{nn::Linear(4, 5), nn::BatchNorm1d(5), nn::Sigmoid(), nn::Linear(5, 2)};
  std::weak_ptr<hnn::autograd::Node> bn_node, sigmoid_node;
  nn::ScopedRemovableHandle spy = net[2].register_forward_hook([&](auto&, const auto& input, auto& output) {
    bn_node = input.grad_fn();
    sigmoid_node = output.grad_fn();
  });
  hnn::Generator gen(7);
  const auto x = hnn::randn<float>({8, 4}, gen);
  {
    ActivationMonitor monitor(net);
    {
      auto y = net(x);
      REQUIRE(!bn_node.expired());
      REQUIRE(!sigmoid_node.expired());
    }
    CHECK(bn_node.expired());
    CHECK(sigmoid_node.expired());
    CHECK(monitor.point("2", MonitorPoint::input).history.size() == 1);
    monitor.remove();
    CHECK_FALSE(monitor.attached());
    monitor.step();
    net(x);
    CHECK(monitor.point("2", MonitorPoint::input).history.size() == 1);
  }
  { ActivationMonitor monitor(net); }
  const auto y = net(x);  // hooks of a destroyed monitor would crash here
  CHECK(y.numel() == 16);
}

TEST_CASE("the tidy CSV holds every recorded value, sorted by step", "[utils][monitor]") {
  hnn::manual_seed(8);
  nn::Sequential<double> net{nn::Linear<double>(3, 4), nn::BatchNorm1d<double>(4), nn::Sigmoid<double>(),
                             nn::Linear<double>(4, 2)};
  ActivationMonitor monitor(net, ActivationMonitorOptions().every(2));
  hnn::Generator gen(9);
  for (int i = 0; i < 4; ++i) train_step<double>(net, monitor, hnn::randn<double>({5, 3}, gen));
  const auto path = (scratch_dir() / "activations.csv").string();
  monitor.write_csv(path);
  std::istringstream csv(read_file(path));
  std::string line;
  std::getline(csv, line);
  CHECK(line == "step,layer,module,point,stat,value");
  std::vector<std::vector<std::string>> rows;
  while (std::getline(csv, line)) {
    std::vector<std::string> fields;
    std::istringstream fs(line);
    for (std::string f; std::getline(fs, f, ',');) fields.push_back(f);
    REQUIRE(fields.size() == 6);
    rows.push_back(fields);
  }
  // Per recorded step (0 and 2): batch norm input and output with 8 stats each, the sigmoid input with 9
  // (saturated too), and 6 gradient norms.
  CHECK(rows.size() == 2 * (8 + 8 + 9 + 6));
  for (size_t i = 1; i < rows.size(); ++i) CHECK(std::stoll(rows[i - 1][0]) <= std::stoll(rows[i][0]));
  size_t saturated_rows = 0, gradient_rows = 0;
  for (const auto& r : rows) {
    if (r[4] == "saturated") {
      ++saturated_rows;
      CHECK(r[1] == "2");
      CHECK(r[2] == "Sigmoid");
      CHECK(r[3] == "input");
    }
    if (r[3] == "grad") {
      ++gradient_rows;
      CHECK(r[4] == "l2_norm");
    }
  }
  CHECK(saturated_rows == 2);
  CHECK(gradient_rows == 12);
  // Values round-trip through the text (9 significant digits).
  const auto p50 = monitor.series("1", MonitorPoint::output, "p50");
  std::vector<double> from_csv;
  for (const auto& r : rows)
    if (r[1] == "1" && r[3] == "output" && r[4] == "p50") from_csv.push_back(std::stod(r[5]));
  REQUIRE(from_csv.size() == 2);
  for (size_t i = 0; i < 2; ++i) CHECK(from_csv[i] == Approx(p50[i]).epsilon(1e-8));
}

TEST_CASE("write_svg draws percentile bands per point; the comparison pairs activations",
          "[utils][monitor]") {
  hnn::manual_seed(10);
  nn::Sequential<float> plain{nn::Linear(3, 4), nn::Sigmoid(), nn::Linear(4, 4), nn::Sigmoid(),
                              nn::Linear(4, 2)};
  nn::Sequential<float> normed{nn::Linear(3, 4),   nn::BatchNorm1d(4), nn::Sigmoid(),   nn::Linear(4, 4),
                               nn::BatchNorm1d(4), nn::Sigmoid(),      nn::Linear(4, 2)};
  ActivationMonitor a(plain), b(normed);
  hnn::Generator gen(11);
  for (int i = 0; i < 3; ++i) {
    const auto x = hnn::randn<float>({8, 3}, gen);
    train_step<float>(plain, a, x);
    train_step<float>(normed, b, x);
  }
  const auto dir = scratch_dir();
  b.write_svg((dir / "activations.svg").string(), "with <BN>");
  const auto svg = read_file((dir / "activations.svg").string());
  CHECK(svg.rfind("<?xml", 0) == 0);
  size_t panels = 0;
  for (size_t at = svg.find("class=\"panel\""); at != std::string::npos;
       at = svg.find("class=\"panel\"", at + 1))
    ++panels;
  CHECK(panels == b.points().size() + 1);  // + the gradient norms
  CHECK(svg.find(">p1-p99<") != std::string::npos);
  CHECK(svg.find(">p15.87-p84.13<") != std::string::npos);
  CHECK(svg.find("with &lt;BN&gt;") != std::string::npos);
  CHECK(svg.find("<polygon") != std::string::npos);

  hnn::utils::write_comparison_svg((dir / "comparison.svg").string(), a, "without BN", b, "with BN");
  const auto comparison = read_file((dir / "comparison.svg").string());
  CHECK(comparison.find(">without BN: 3 Sigmoid input<") != std::string::npos);
  CHECK(comparison.find(">with BN: 5 Sigmoid input<") != std::string::npos);

  nn::Sequential<float> one{nn::Linear(3, 2), nn::Tanh()};
  ActivationMonitor c(one);
  CHECK_THROWS_WITH(hnn::utils::write_comparison_svg((dir / "bad.svg").string(), a, "a", c, "c"),
                    Catch::Contains("got 2 (a) and 1 (c)"));
}

TEST_CASE("bad options and unknown names are rejected, naming what was expected",
          "[utils][monitor][errors]") {
  CHECK_THROWS_WITH(ActivationMonitorOptions().every(0),
                    Catch::Contains("expected a step interval >= 1, got 0"));
  CHECK_THROWS_WITH(ActivationMonitorOptions().percentiles({50, 10}),
                    Catch::Contains("expected strictly increasing values, got 50 then 10"));
  CHECK_THROWS_WITH(ActivationMonitorOptions().percentiles({50, 101}),
                    Catch::Contains("in [0, 100], got 101"));
  CHECK_THROWS_AS(ActivationMonitorOptions().percentiles({}), std::invalid_argument);
  CHECK_THROWS_AS(ActivationMonitorOptions().saturation_threshold(0), std::invalid_argument);

  nn::Sequential<float> net{nn::Linear(3, 4), nn::ReLU()};
  CHECK_THROWS_WITH(ActivationMonitor(net, ActivationMonitorOptions().modules({"7"})),
                    Catch::Contains("no module named '7'; its modules are '0' (Linear), '1' (ReLU)"));
  ActivationMonitor monitor(net);
  CHECK_THROWS_WITH(monitor.point("0", MonitorPoint::input),
                    Catch::Contains("'0' input is not monitored; monitored points are 1:input"));
  CHECK_THROWS_WITH(monitor.series("1", MonitorPoint::input, "p42"),
                    Catch::Contains("unknown statistic 'p42'; expected one of count, mean, std, p1, p15.87"));
  CHECK_THROWS_AS(monitor.write_csv("/nonexistent-dir/activations.csv"), std::runtime_error);
}
