// Tests for include/hnn/nn/batch_norm_variants.hpp and the batch-of-one policy of nn/batch_norm.hpp:
// FrozenBatchNorm against torchvision's formula and keys, freeze_batch_norm on LeNet-BN, GhostBatchNorm
// against BatchNorm called on each chunk in turn, MaskedBatchNorm1d against BatchNorm1d on the packed
// valid positions, BatchOfOne::use_running_stats against eval; values, buffers and gradients in float and
// double, gradchecks in double, and the errors.
#include <catch2/catch.hpp>
#include <hnn/hnn.hpp>
#ifdef HNN_WITH_MPI  // SyncBatchNorm needs MPI's headers (the sanitizer builds go without)
#include <hnn/nn/sync_batch_norm.hpp>
#endif
#include <string>
#include <vector>

#include "lenet_bn.hpp"
#include "reference.hpp"

namespace nn = hnn::nn;
using hnn::Shape;
using hnn::Tensor;
using hnn::test::expect_close;

namespace {

/// Random affine parameters and moved running statistics, so that no comparison passes on 1s and 0s.
template <class T, class BN>
void randomise(BN& bn, hnn::Generator& gen) {
  hnn::NoGradGuard guard;
  const int64_t C = bn.options().num_features();
  if (bn.weight().defined()) bn.weight().copy_(hnn::rand<T>({C}, gen) + T(0.5));
  if (bn.bias().defined()) bn.bias().copy_(hnn::randn<T>({C}, gen));
  if (bn.running_mean().defined()) {
    bn.running_mean().copy_(hnn::randn<T>({C}, gen));
    bn.running_var().copy_(hnn::rand<T>({C}, gen) + T(0.5));
  }
}

/// Copies parameters and buffers of `from` into `to` (same keys).
template <class T>
void copy_state(const nn::Module<T>& from, nn::Module<T>& to) {
  to.load_state_dict(from.state_dict());
}

template <class T>
std::vector<std::string> keys(const nn::Module<T>& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m.state_dict()) out.push_back(k);
  return out;
}

}  // namespace

// ---- frozen --------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("FrozenBatchNorm2d is torchvision's affine map in train and eval", "[batchnorm][variants]",
                   float, double) {
  using T = TestType;
  hnn::Generator gen(3);
  nn::FrozenBatchNorm2d<T> f(3, 1e-3);
  {
    hnn::NoGradGuard guard;
    f.weight().copy_(hnn::rand<T>({3}, gen) + T(0.5));
    f.bias().copy_(hnn::randn<T>({3}, gen));
    f.running_mean().copy_(hnn::randn<T>({3}, gen));
    f.running_var().copy_(hnn::rand<T>({3}, gen) + T(0.1));
  }
  CHECK(f.repr() == "FrozenBatchNorm2d(3, eps=0.001)");
  CHECK(nn::FrozenBatchNorm2d<T>(3).repr() == "FrozenBatchNorm2d(3, eps=1e-05)");
  CHECK(keys(f) == std::vector<std::string>{"weight", "bias", "running_mean", "running_var"});
  CHECK(f.parameters().empty());
  CHECK(f.buffers().size() == 4);

  // torchvision: scale = w * (rv + eps).rsqrt(); shift = b - rm * scale; x * scale + shift (in double here)
  auto x = hnn::randn<T>({4, 3, 2, 5}, gen);
  const auto w = f.weight().to_vector(), b = f.bias().to_vector(), rm = f.running_mean().to_vector(),
             rv = f.running_var().to_vector();
  const auto xv = x.to_vector();
  std::vector<double> expected(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t c = (i / 10) % 3;
    const double scale = double(w[c]) / std::sqrt(double(rv[c]) + 1e-3);
    expected[i] = double(xv[i]) * scale + (double(b[c]) - double(rm[c]) * scale);
  }
  const auto expected_t = hnn::tensor<double>(expected, x.shape());
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-13;
  f.train();
  expect_close(f(x), expected_t, tol, tol, "train");
  f.eval();
  expect_close(f(x), expected_t, tol, tol, "eval");
  // Buffers never move, and a batch of one is fine.
  expect_close(f.running_mean(), hnn::tensor<T>(rm, {3}), 0, 0, "running_mean");
  f.train();
  auto one = hnn::randn<T>({1, 3, 1, 1}, gen);
  CHECK_NOTHROW(f(one));

  // Gradients reach the input: dx = scale * dy.
  auto xg = x.detach().requires_grad_(true);
  f(xg).sum().backward();
  std::vector<double> scale_grad(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t c = (i / 10) % 3;
    scale_grad[i] = double(w[c]) / std::sqrt(double(rv[c]) + 1e-3);
  }
  expect_close(xg.grad(), hnn::tensor<double>(scale_grad, x.shape()), tol, tol, "dx");
}

TEST_CASE("FrozenBatchNorm gradcheck and rank checks", "[batchnorm][variants][gradcheck]") {
  hnn::Generator gen(5);
  nn::FrozenBatchNorm1d<double> f1(4);
  nn::FrozenBatchNorm3d<double> f3(2);
  {
    hnn::NoGradGuard guard;
    f1.running_var().copy_(hnn::rand<double>({4}, gen) + 0.5);
    f1.weight().copy_(hnn::randn<double>({4}, gen));
  }
  auto x = hnn::randn<double>({3, 4, 2}, gen).requires_grad_(true);
  auto fn = [&](const std::vector<Tensor<double>>& in) { return f1(in[0]); };
  CHECK(hnn::autograd::gradcheck<hnn::CPU>(fn, {x}));
  CHECK(f1(hnn::randn<double>({3, 4}, gen)).shape() == Shape{3, 4});
  CHECK(f3(hnn::randn<double>({2, 2, 2, 2, 2}, gen)).shape() == Shape{2, 2, 2, 2, 2});
  REQUIRE_THROWS_WITH(f1(hnn::ones<double>({2, 4, 2, 2})),
                      Catch::Contains("expected 2D or 3D input (got 4D input)"));
  REQUIRE_THROWS_WITH(f3(hnn::ones<double>({2, 2, 2, 2})),
                      Catch::Contains("expected 5D input (got 4D input)"));
  REQUIRE_THROWS_WITH(
      f1(hnn::ones<double>({2, 3})),
      Catch::Contains("FrozenBatchNorm1d(4): expected 4 channels in dim 1, got input of shape [2, 3]"));
  REQUIRE_THROWS_AS(nn::FrozenBatchNorm2d<float>(0), std::invalid_argument);
}

TEST_CASE("FrozenBatchNorm2d loads a BatchNorm2d's state dict, num_batches_tracked ignored",
          "[batchnorm][variants][state_dict]") {
  hnn::Generator gen(7);
  nn::BatchNorm2d<float> bn(5);
  randomise<float>(bn, gen);
  bn(hnn::randn<float>({4, 5, 3, 3}, gen));  // num_batches_tracked = 1
  nn::FrozenBatchNorm2d<float> f(5);
  f.load_state_dict(bn.state_dict());  // strict: no unexpected key
  expect_close(f.weight(), bn.weight().detach(), 0, 0, "weight");
  expect_close(f.running_var(), bn.running_var(), 0, 0, "running_var");
  bn.eval();
  auto x = hnn::randn<float>({2, 5, 4, 4}, gen);
  expect_close(f(x), bn(x), 0, 1e-6, "frozen vs eval");
  // A frozen layer built from the module is the same, and a missing key is still an error.
  nn::FrozenBatchNorm2d<float> g(bn);
  expect_close(g(x), bn(x), 0, 1e-6, "from module");
  nn::StateDict<hnn::CPU> partial;
  for (const auto& [k, v] : bn.state_dict())
    if (k != "bias") partial.insert(k, v);
  REQUIRE_THROWS_WITH(f.load_state_dict(partial), Catch::Contains("Missing key(s) in state_dict: \"bias\""));
  // Other unexpected keys are still reported.
  auto extra = bn.state_dict();
  extra.insert("momentum_buffer", hnn::AnyTensor<hnn::CPU>(hnn::zeros<float>({5})));
  REQUIRE_THROWS_WITH(f.load_state_dict(extra),
                      Catch::Contains("Unexpected key(s) in state_dict: \"momentum_buffer\""));
}

TEST_CASE("freeze_batch_norm on LeNet-BN: the frozen model in train mode is the original in eval mode",
          "[batchnorm][variants]") {
  hnn::manual_seed(4);
  hnn::Generator gen(9);
  auto model = hnn_test::lenet_bn<double>();
  model.train();
  for (int i = 0; i < 3; ++i) model(hnn::randn<double>({8, 1, 28, 28}, gen) * 2.0 + 0.5);
  for (const auto& [path, m] : model.named_modules())
    if (auto* bn = dynamic_cast<nn::BatchNormInterface<double>*>(m)) {
      hnn::NoGradGuard guard;
      bn->weight().copy_(hnn::rand<double>({bn->options().num_features()}, gen) + 0.5);
      bn->bias().copy_(hnn::randn<double>({bn->options().num_features()}, gen));
    }
  auto frozen = hnn_test::lenet_bn<double>();
  copy_state(model, frozen);
  nn::utils::freeze_batch_norm(frozen);
  CHECK(frozen[1].name() == "FrozenBatchNorm2d");
  CHECK(frozen[5].name() == "FrozenBatchNorm2d");
  CHECK(frozen[10].name() == "FrozenBatchNorm1d");
  CHECK(frozen[13].name() == "FrozenBatchNorm1d");
  CHECK(frozen[1].repr() == "FrozenBatchNorm2d(6, eps=1e-05)");
  // Only the frozen layers' buffers changed kind: the state dict is the original's less num_batches_tracked.
  std::vector<std::string> expected_keys;
  for (const auto& k : keys(model))
    if (k.find("num_batches_tracked") == std::string::npos) expected_keys.push_back(k);
  CHECK(keys(frozen) == expected_keys);
  CHECK(frozen.parameters().size() == model.parameters().size() - 8);
  // The original's state dict loads strictly into the frozen model.
  CHECK_NOTHROW(frozen.load_state_dict(model.state_dict()));

  auto x = hnn::randn<double>({6, 1, 28, 28}, gen);
  model.eval();
  frozen.train();
  const auto reference = model(x);
  expect_close(frozen(x), reference, 1e-12, 1e-12, "frozen train vs original eval");
  frozen.train();
  expect_close(frozen(x), reference, 1e-12, 1e-12, "buffers untouched by a training forward");
  // fold_batch_norm understands frozen layers: every one folds away.
  auto folded = nn::utils::fold_batch_norm(frozen);
  for (size_t i = 0; i < folded.size(); ++i) CHECK(folded[i].name().find("BatchNorm") == std::string::npos);
  expect_close(folded(x), reference, 1e-9, 1e-9, "folded frozen");
}

TEST_CASE("freeze_batch_norm: affine=False, SyncBatchNorm, nesting and refusals",
          "[batchnorm][variants][errors]") {
  hnn::Generator gen(2);
  nn::Sequential<float> inner{nn::Linear<float>(3, 4),
                              nn::BatchNorm1d<float>(nn::BatchNormOptions(4).affine(false))};
  nn::Sequential<float> model{nn::Conv2d<float>(nn::Conv2dOptions(1, 3, 3)),
                              nn::BatchNorm2d<float>(nn::BatchNormOptions(3).eps(1e-3))};
  model.push_back(inner);
  model.push_back(nn::BatchNorm3d<float>(2));
  {
    auto& bn = model.get<nn::BatchNorm2d<float>>(1);
    randomise<float>(bn, gen);
  }
#ifdef HNN_WITH_MPI
  nn::convert_sync_batchnorm(model);  // BatchNorm2d/3d -> SyncBatchNorm, remembering their rank
  CHECK(model[1].name() == "SyncBatchNorm");
#endif
  nn::utils::freeze_batch_norm(model);
  CHECK(model[1].repr() == "FrozenBatchNorm2d(3, eps=0.001)");
  CHECK(model[3].name() == "FrozenBatchNorm3d");
  auto& nested = model.get<nn::Sequential<float>>(2);
  auto& frozen1d = nested.get<nn::FrozenBatchNorm1d<float>>(1);
  CHECK(frozen1d.weight().to_vector() == std::vector<float>(4, 1.0f));
  CHECK(frozen1d.bias().to_vector() == std::vector<float>(4, 0.0f));
#ifdef HNN_WITH_MPI
  // A SyncBatchNorm built directly becomes FrozenBatchNorm2d, as in detectron2.
  nn::Sequential<float> sync{nn::SyncBatchNorm<float>(2)};
  nn::utils::freeze_batch_norm(sync);
  CHECK(sync[0].name() == "FrozenBatchNorm2d");
#endif
  // Ghost batch norms freeze to their rank; masked ones stay.
  nn::Sequential<float> mixed{nn::GhostBatchNorm1d<float>(4, 2), nn::MaskedBatchNorm1d<float>(4)};
  nn::utils::freeze_batch_norm(mixed);
  CHECK(mixed[0].name() == "FrozenBatchNorm1d");
  CHECK(mixed[1].name() == "MaskedBatchNorm1d");

  // Without running statistics: refused, naming the path, and nothing replaced.
  nn::Sequential<float> untracked{nn::BatchNorm1d<float>(3), nn::Linear<float>(3, 3)};
  untracked.push_back(
      nn::Sequential<float>{nn::BatchNorm1d<float>(nn::BatchNormOptions(3).track_running_stats(false))});
  REQUIRE_THROWS_WITH(nn::utils::freeze_batch_norm(untracked),
                      Catch::Contains("the BatchNorm1d at '2.0' has track_running_stats=False"));
  CHECK(untracked[0].name() == "BatchNorm1d");
  // The root itself is never replaced.
  nn::BatchNorm2d<float> lone(3);
  REQUIRE_THROWS_WITH(nn::utils::freeze_batch_norm(lone), Catch::Contains("construct FrozenBatchNorm2d(bn)"));
}

// ---- ghost ---------------------------------------------------------------------------------------------

namespace {

/// Ghost batch norm against `ref`, a BatchNorm with the same state, called on each chunk in turn:
/// outputs, buffers, num_batches_tracked, and the gradients of input, weight and bias.
template <class T, class Ghost, class BN>
void check_ghost_against_chunks(Ghost& ghost, BN& ref, const Tensor<T>& input, int64_t chunk, double tol) {
  hnn::Generator gen(17);
  auto r = hnn::randn<T>(input.shape(), gen);
  auto x1 = input.detach().requires_grad_(true);
  auto y1 = ghost(x1);
  (y1 * r).sum().backward();

  auto x2 = input.detach().requires_grad_(true);
  std::vector<Tensor<T>> pieces;
  const int64_t N = input.size(0);
  for (int64_t first = 0; first < N; first += chunk)
    pieces.push_back(ref(x2.narrow(0, first, std::min(chunk, N - first))));
  auto y2 = hnn::cat(pieces, 0);
  (y2 * r).sum().backward();

  expect_close(y1, y2, tol, tol, "output");
  expect_close(x1.grad(), x2.grad(), tol, tol, "dx");
  if (ghost.weight().defined()) {
    expect_close(ghost.weight().grad(), ref.weight().grad(), tol, tol, "dweight");
    expect_close(ghost.bias().grad(), ref.bias().grad(), tol, tol, "dbias");
  }
  if (ghost.running_mean().defined()) {
    expect_close(ghost.running_mean(), ref.running_mean(), tol, tol, "running_mean");
    expect_close(ghost.running_var(), ref.running_var(), tol, tol, "running_var");
  }
  CHECK(ghost.num_batches_tracked() == ref.num_batches_tracked());
}

}  // namespace

TEMPLATE_TEST_CASE("GhostBatchNorm is BatchNorm called on each virtual batch in turn",
                   "[batchnorm][variants]", float, double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  hnn::Generator gen(21);
  for (std::optional<double> momentum : {std::optional<double>(0.1), std::optional<double>()}) {
    for (bool affine : {true, false}) {
      for (int64_t chunk : {1000, 4, 3, 5}) {
        INFO("momentum=" << (momentum ? *momentum : -1.0) << " affine=" << affine << " chunk=" << chunk);
        auto options = nn::BatchNormOptions(3).momentum(momentum).affine(affine);
        {
          nn::GhostBatchNorm2d<T> ghost(options, chunk);
          nn::BatchNorm2d<T> ref(options);
          randomise<T>(ghost, gen);
          copy_state(ghost, ref);
          check_ghost_against_chunks<T>(ghost, ref, hnn::randn<T>({11, 3, 4, 5}, gen) * T(3) + T(1),
                                        std::min<int64_t>(chunk, 11), tol);
          // Again: the running statistics keep following chunk by chunk.
          ghost.zero_grad();
          ref.zero_grad();
          check_ghost_against_chunks<T>(ghost, ref, hnn::randn<T>({11, 3, 4, 5}, gen),
                                        std::min<int64_t>(chunk, 11), tol);
        }
        {
          nn::GhostBatchNorm1d<T> ghost(options, chunk);
          nn::BatchNorm1d<T> ref(options);
          randomise<T>(ghost, gen);
          copy_state(ghost, ref);
          check_ghost_against_chunks<T>(ghost, ref, hnn::randn<T>({12, 3}, gen), std::min<int64_t>(chunk, 12),
                                        tol);
          check_ghost_against_chunks<T>(ghost, ref, hnn::randn<T>({9, 3, 2}, gen),
                                        std::min<int64_t>(chunk, 9), tol);
        }
      }
    }
  }
}

TEST_CASE("GhostBatchNorm2d in eval is BatchNorm2d's eval, and keeps a channels-last layout",
          "[batchnorm][variants]") {
  hnn::Generator gen(23);
  nn::GhostBatchNorm2d<double> ghost(nn::BatchNormOptions(4), 2);
  nn::BatchNorm2d<double> ref(4);
  randomise<double>(ghost, gen);
  copy_state(ghost, ref);
  ghost.eval();
  ref.eval();
  auto x = hnn::randn<double>({7, 4, 3, 3}, gen);
  expect_close(ghost(x), ref(x), 0, 0, "eval");
  CHECK(ghost.num_batches_tracked() == 0);
  // With track_running_stats=False eval uses the statistics of the whole batch, never virtual batches.
  nn::GhostBatchNorm2d<double> untracked(nn::BatchNormOptions(4).track_running_stats(false), 2);
  nn::BatchNorm2d<double> untracked_ref(nn::BatchNormOptions(4).track_running_stats(false));
  untracked.eval();
  untracked_ref.eval();
  expect_close(untracked(x), untracked_ref(x), 1e-12, 1e-12, "eval without running stats");

  ghost.train();
  auto cl = x.permute({0, 2, 3, 1}).contiguous().permute({0, 3, 1, 2});
  nn::GhostBatchNorm2d<double> ghost_cl(nn::BatchNormOptions(4), 2);
  copy_state(ghost, ghost_cl);
  auto y = ghost(x);
  auto y_cl = ghost_cl(cl);
  CHECK_FALSE(y_cl.is_contiguous());
  expect_close(y_cl.contiguous(), y, 1e-12, 1e-12, "channels-last");
  expect_close(ghost_cl.running_var(), ghost.running_var(), 1e-12, 1e-12, "channels-last running_var");
  CHECK(ghost.repr() ==
        "GhostBatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, "
        "virtual_batch_size=2)");
  CHECK(ghost.virtual_batch_size() == 2);
  CHECK(keys(ghost) == keys(ref));
}

TEST_CASE("batch_norm_chunks gradcheck in double, training and running-statistics chunks mixed",
          "[batchnorm][variants][gradcheck]") {
  hnn::Generator gen(25);
  for (auto shape : {Shape{7, 3}, Shape{7, 2, 3}, Shape{7, 2, 2, 3}}) {
    INFO("shape=" << shape);
    const int64_t C = shape[1];
    auto x = hnn::randn<double>(shape, gen).requires_grad_(true);
    auto w = (hnn::rand<double>({C}, gen) + 0.5).requires_grad_(true);
    auto b = hnn::randn<double>({C}, gen).requires_grad_(true);
    auto rm = hnn::randn<double>({C}, gen);
    auto rv = hnn::rand<double>({C}, gen) + 0.5;
    auto r = hnn::randn<double>(shape, gen);
    // momentum 0: the training chunks leave the running statistics as they are between evaluations.
    const std::vector<hnn::BatchNormChunk> chunks{
        {3, true, 0.0}, {1, false, 0.0}, {2, true, 0.0}, {1, false, 0.0}};
    auto fn = [&](const std::vector<Tensor<double>>& in) {
      return hnn::batch_norm_chunks(in[0], rm, rv, in[1], in[2], chunks, 1e-5) * r;
    };
    CHECK(hnn::autograd::gradcheck<hnn::CPU>(fn, {x, w, b}));
  }
  REQUIRE_THROWS_WITH(
      hnn::batch_norm_chunks(hnn::ones<double>({4, 2}), {}, {}, {}, {}, {{3, true, 0.1}}, 1e-5),
      Catch::Contains("the chunks cover 3 samples, the input has 4"));
}

TEST_CASE("GhostBatchNorm: a last virtual batch of one and bad virtual batch sizes",
          "[batchnorm][variants][errors]") {
  hnn::Generator gen(27);
  nn::GhostBatchNorm1d<float> ghost(nn::BatchNormOptions(3), 4);
  auto x = hnn::randn<float>({9, 3}, gen);
  REQUIRE_THROWS_WITH(ghost(x),
                      Catch::Contains("GhostBatchNorm1d(virtual_batch_size=4) on input of shape [9, 3]: "
                                      "Expected more than 1 value per channel when training, got input "
                                      "size torch.Size([1, 3])"));
  // Refused before any state moved.
  CHECK(ghost.num_batches_tracked() == 0);
  CHECK(ghost.running_mean().to_vector() == std::vector<float>(3, 0.0f));
  // (9, 3, 2): the last virtual batch has 2 values per channel, fine.
  CHECK_NOTHROW(ghost(hnn::randn<float>({9, 3, 2}, gen)));
  CHECK(ghost.num_batches_tracked() == 3);

  // With the batch-of-one policy the last row is normalised with the running statistics as the first two
  // virtual batches left them, and does not count.
  nn::GhostBatchNorm1d<double> policy(nn::BatchNormOptions(3).batch_of_one(nn::BatchOfOne::use_running_stats),
                                      4);
  nn::BatchNorm1d<double> ref(nn::BatchNormOptions(3).batch_of_one(nn::BatchOfOne::use_running_stats));
  auto xd = hnn::randn<double>({9, 3}, gen);
  check_ghost_against_chunks<double>(policy, ref, xd, 4, 1e-12);
  CHECK(policy.num_batches_tracked() == 2);

  REQUIRE_THROWS_WITH(nn::GhostBatchNorm2d<float>(nn::BatchNormOptions(3), 0),
                      Catch::Contains("virtual_batch_size must be positive, got 0"));
  REQUIRE_THROWS_WITH(nn::GhostBatchNorm2d<float>(nn::BatchNormOptions(3), -2),
                      Catch::Contains("virtual_batch_size must be positive, got -2"));
  nn::GhostBatchNorm2d<float> g2(nn::BatchNormOptions(3), 2);
  REQUIRE_THROWS_WITH(g2(hnn::ones<float>({4, 3})), Catch::Contains("expected 4D input (got 2D input)"));
  REQUIRE_THROWS_WITH(g2(hnn::ones<float>({4, 2, 2, 2})),
                      Catch::Contains("running_mean should contain 2 elements not 3"));
}

// ---- masked --------------------------------------------------------------------------------------------

namespace {

/// The (M, C) matrix of the valid positions of x (N, C, L), in (n, l) order, computed by hand.
template <class T>
Tensor<T> pack(const Tensor<T>& x, const std::vector<int64_t>& mask) {
  const int64_t N = x.size(0), C = x.size(1), L = x.size(2);
  const auto v = x.contiguous().to_vector();
  std::vector<T> out;
  int64_t rows = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t l = 0; l < L; ++l)
      if (mask[size_t(n * L + l)]) {
        ++rows;
        for (int64_t c = 0; c < C; ++c) out.push_back(v[size_t((n * C + c) * L + l)]);
      }
  return hnn::tensor<T>(out, {rows, C});
}

}  // namespace

TEMPLATE_TEST_CASE("MaskedBatchNorm1d equals BatchNorm1d on the packed valid positions",
                   "[batchnorm][variants]", float, double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  hnn::Generator gen(31);
  const int64_t N = 4, C = 3, L = 6;
  // Sequences of lengths 6, 2, 4, 1 padded at the end, and one with a hole.
  std::vector<int64_t> mask_v;
  for (int64_t len : {6, 2, 4, 1})
    for (int64_t l = 0; l < L; ++l) mask_v.push_back(l < len ? 1 : 0);
  mask_v[size_t(0 * L + 3)] = 0;
  const auto mask = hnn::tensor<int64_t>(mask_v, {N, L});
  for (bool affine : {true, false}) {
    INFO("affine=" << affine);
    auto options = nn::BatchNormOptions(C).affine(affine).momentum(0.3);
    nn::MaskedBatchNorm1d<T> masked(options);
    nn::BatchNorm1d<T> ref(options);
    randomise<T>(masked, gen);
    copy_state(masked, ref);
    for (int step = 0; step < 2; ++step) {
      masked.zero_grad();
      ref.zero_grad();
      auto x = (hnn::randn<T>({N, C, L}, gen) * T(2) + T(1)).requires_grad_(true);
      auto r = hnn::randn<T>({N, C, L}, gen);
      auto y = masked.forward(x, mask);
      (y * r).sum().backward();

      auto xp = pack(x.detach(), mask_v).requires_grad_(true);
      auto yp = ref(xp);
      (yp * pack(r, mask_v)).sum().backward();
      expect_close(pack(y.detach(), mask_v), yp, tol, tol, "valid outputs");
      expect_close(pack(x.grad(), mask_v), xp.grad(), tol, tol, "valid dx");
      const auto yv = y.to_vector(), gv = x.grad().to_vector();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = 0; c < C; ++c)
          for (int64_t l = 0; l < L; ++l)
            if (!mask_v[size_t(n * L + l)]) {
              CHECK(yv[size_t((n * C + c) * L + l)] == T(0));
              CHECK(gv[size_t((n * C + c) * L + l)] == T(0));
            }
      if (affine) {
        expect_close(masked.weight().grad(), ref.weight().grad(), tol, tol, "dweight");
        expect_close(masked.bias().grad(), ref.bias().grad(), tol, tol, "dbias");
      }
      expect_close(masked.running_mean(), ref.running_mean(), tol, tol, "running_mean");
      expect_close(masked.running_var(), ref.running_var(), tol, tol, "running_var");
      CHECK(masked.num_batches_tracked() == ref.num_batches_tracked());
    }
    masked.eval();
    ref.eval();
    auto x = hnn::randn<T>({N, C, L}, gen);
    expect_close(pack(masked.forward(x, mask), mask_v), ref(pack(x, mask_v)), tol, tol, "eval");
    // Without a mask it is BatchNorm1d.
    expect_close(masked(x), ref(x), tol, tol, "no mask");
  }
}

TEST_CASE("MaskedBatchNorm1d gradcheck in double and mask errors",
          "[batchnorm][variants][gradcheck][errors]") {
  hnn::Generator gen(33);
  nn::MaskedBatchNorm1d<double> masked(nn::BatchNormOptions(2).track_running_stats(false));
  randomise<double>(masked, gen);
  const auto mask = hnn::tensor<int64_t>({1, 1, 0, 1, 0, 0, 1, 1, 1}, {3, 3});
  auto x = hnn::randn<double>({3, 2, 3}, gen).requires_grad_(true);
  auto r = hnn::randn<double>({3, 2, 3}, gen);
  auto fn = [&](const std::vector<Tensor<double>>& in) { return masked.forward(in[0], mask) * r; };
  CHECK(hnn::autograd::gradcheck<hnn::CPU>(fn, {x}));

  nn::MaskedBatchNorm1d<float> m(3);
  auto xf = hnn::randn<float>({2, 3, 4}, gen);
  REQUIRE_THROWS_WITH(
      m.forward(xf, hnn::ones<int64_t>({2, 5})),
      Catch::Contains("the mask must have shape (N, L) = [2, 4] for input of shape [2, 3, 4], got [2, 5]"));
  REQUIRE_THROWS_WITH(m.forward(xf, hnn::ones<int64_t>({8})), Catch::Contains("got [8]"));
  auto bad = hnn::ones<int64_t>({2, 4});
  bad.data()[6] = 2;
  REQUIRE_THROWS_WITH(m.forward(xf, bad),
                      Catch::Contains("mask values must be 0 (padding) or 1 (valid), got 2 at [1, 2]"));
  REQUIRE_THROWS_WITH(m.forward(hnn::ones<float>({2, 3}), hnn::ones<int64_t>({2, 1})),
                      Catch::Contains("expected input (N, C, L) with a mask, got shape [2, 3]"));
  REQUIRE_THROWS_WITH(m.forward(hnn::ones<float>({2, 4, 4}), hnn::ones<int64_t>({2, 4})),
                      Catch::Contains("expected 3 channels in dim 1, got input of shape [2, 4, 4]"));
  // One valid position in training follows BatchNorm's rule for a batch of one.
  auto single = hnn::zeros<int64_t>({2, 4});
  single.data()[1] = 1;
  REQUIRE_THROWS_WITH(m.forward(xf, single),
                      Catch::Contains("Expected more than 1 value per channel when training"));
  CHECK(m.num_batches_tracked() == 0);
}

// ---- batch of one --------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("BatchOfOne::use_running_stats normalises a batch of one with the running statistics",
                   "[batchnorm][variants]", float, double) {
  using T = TestType;
  hnn::Generator gen(41);
  auto options = nn::BatchNormOptions(3).batch_of_one(nn::BatchOfOne::use_running_stats);
  nn::BatchNorm1d<T> bn(options);
  nn::BatchNorm1d<T> ref(3);
  randomise<T>(bn, gen);
  copy_state(bn, ref);
  ref.eval();
  auto x = hnn::randn<T>({1, 3}, gen);
  auto x1 = x.detach().requires_grad_(true);
  auto x2 = x.detach().requires_grad_(true);
  bn.train();
  auto y = bn(x1);
  expect_close(y, ref(x2), 0, 0, "values");
  y.sum().backward();
  ref(x2).sum().backward();
  expect_close(x1.grad(), x2.grad(), 0, 0, "dx");
  expect_close(bn.weight().grad(), ref.weight().grad(), 0, 0, "dweight");
  expect_close(bn.running_mean(), ref.running_mean(), 0, 0, "running_mean untouched");
  expect_close(bn.running_var(), ref.running_var(), 0, 0, "running_var untouched");
  CHECK(bn.num_batches_tracked() == 0);
  CHECK(bn.is_training());
  // A batch of two still trains.
  bn(hnn::randn<T>({2, 3}, gen));
  CHECK(bn.num_batches_tracked() == 1);
  // (1, C, 1, 1) for BatchNorm2d too.
  nn::BatchNorm2d<T> bn2(options);
  CHECK_NOTHROW(bn2(hnn::randn<T>({1, 3, 1, 1}, gen)));
  CHECK(bn2.num_batches_tracked() == 0);
  CHECK(bn.repr() ==
        "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, "
        "batch_of_one=use_running_stats)");
}

TEST_CASE("batch of one: PyTorch's error by default, and the policy needs running statistics",
          "[batchnorm][variants][errors]") {
  nn::BatchNorm1d<float> bn(3);
  REQUIRE_THROWS_WITH(bn(hnn::ones<float>({1, 3})),
                      Catch::Contains("Expected more than 1 value per channel when training, got input size "
                                      "torch.Size([1, 3])"));
  CHECK(bn.num_batches_tracked() == 0);
  REQUIRE_THROWS_WITH(nn::BatchNorm1d<float>(nn::BatchNormOptions(3).track_running_stats(false).batch_of_one(
                          nn::BatchOfOne::use_running_stats)),
                      Catch::Contains("needs running statistics, but track_running_stats is false"));
  // Switched on after construction on a module without running statistics: refused at the forward.
  nn::BatchNorm1d<float> untracked(nn::BatchNormOptions(3).track_running_stats(false));
  untracked.mutable_options().batch_of_one(nn::BatchOfOne::use_running_stats);
  REQUIRE_THROWS_WITH(untracked(hnn::ones<float>({1, 3})), Catch::Contains("track_running_stats=False"));
}

TEST_CASE("fold_batch_norm folds ghost batch norms like the BatchNorm of their rank",
          "[batchnorm][variants]") {
  hnn::manual_seed(3);
  hnn::Generator gen(43);
  nn::Sequential<double> model{nn::Linear<double>(5, 4),
                               nn::GhostBatchNorm1d<double>(nn::BatchNormOptions(4), 3), nn::ReLU<double>()};
  model.train();
  for (int i = 0; i < 3; ++i) model(hnn::randn<double>({11, 5}, gen) * 3.0 + 1.0);
  model.eval();
  auto x = hnn::randn<double>({6, 5}, gen);
  auto folded = nn::utils::fold_batch_norm(model);
  CHECK(folded.size() == 2);
  expect_close(folded(x), model(x), 1e-12, 1e-12, "folded ghost");
}
