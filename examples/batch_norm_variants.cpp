// The batch-norm variants next to plain BatchNorm on one small batch, each with what it is for and a
// check of what it promises:
//  - BatchOfOne::use_running_stats: a training batch of one sample no longer throws;
//  - FrozenBatchNorm2d / freeze_batch_norm: fixed statistics that survive train();
//  - GhostBatchNorm1d: virtual batches, exactly BatchNorm on each chunk in turn;
//  - MaskedBatchNorm1d: padded positions of sequences kept out of the statistics.
// Exits non-zero when a check fails (the suite runs it).
#include <cmath>
#include <hnn/hnn.hpp>
#include <iostream>
#include <stdexcept>
#include <vector>

namespace nn = hnn::nn;

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  std::cout << (ok ? "  [ok]   " : "  [FAIL] ") << what << "\n";
  if (!ok) ++failures;
}

double max_diff(const hnn::Tensor<float>& a, const hnn::Tensor<float>& b) {
  const auto u = a.contiguous().to_vector(), v = b.contiguous().to_vector();
  double d = u.size() == v.size() ? 0.0 : INFINITY;
  for (size_t i = 0; i < u.size() && i < v.size(); ++i) d = std::max(d, double(std::abs(u[i] - v[i])));
  return d;
}

}  // namespace

int main() {
  hnn::Generator gen(0);
  // Eight samples of three features, far from zero mean and unit variance.
  auto x = hnn::randn<float>({8, 3}, gen) * 4.0f + 10.0f;
  std::cout << "x (8, 3):\n" << x << "\n\n";

  nn::BatchNorm1d<float> plain(3);
  std::cout << plain << "\n"
            << "train-mode output:\n"
            << plain(x) << "\n\n";

  // ---- a batch of one ------------------------------------------------------------------------------
  std::cout << "1) A training batch of one sample (the ragged last batch of an epoch)\n";
  try {
    plain(x.narrow(0, 0, 1));
    expect(false, "plain BatchNorm1d refuses a batch of one");
  } catch (const std::invalid_argument& e) {
    std::cout << "  plain BatchNorm1d: " << e.what() << "\n";
    expect(true, "plain BatchNorm1d refuses a batch of one, as PyTorch does");
  }
  nn::BatchNorm1d<float> tolerant(nn::BatchNormOptions(3).batch_of_one(nn::BatchOfOne::use_running_stats));
  tolerant.load_state_dict(plain.state_dict());
  auto one = tolerant(x.narrow(0, 0, 1));
  std::cout << "  " << tolerant << "\n  output: " << one << "\n";
  plain.eval();
  expect(max_diff(one, plain(x.narrow(0, 0, 1))) == 0.0,
         "with batch_of_one(use_running_stats) it equals eval mode");
  expect(tolerant.num_batches_tracked() == 1, "and leaves num_batches_tracked (1) as it was");
  plain.train();

  // ---- frozen --------------------------------------------------------------------------------------
  std::cout << "\n2) Frozen batch norm (fine-tuning with small batches)\n";
  nn::Sequential<float> model{nn::Linear<float>(3, 4), nn::BatchNorm1d<float>(4), nn::ReLU<float>()};
  for (int i = 0; i < 5; ++i) model(hnn::randn<float>({16, 3}, gen) * 2.0f + 1.0f);  // move the statistics
  model.eval();
  auto reference = model(x);
  nn::utils::freeze_batch_norm(model);
  model.train();
  std::cout << "  after freeze_batch_norm:\n" << model << "\n";
  expect(max_diff(model(x), reference) == 0.0,
         "the frozen model in train mode equals the original in eval mode");
  expect(model.parameters().size() == 2, "only the Linear's parameters are left to train");

  // ---- ghost ---------------------------------------------------------------------------------------
  std::cout << "\n3) Ghost batch norm: virtual batches of 3 (chunks of 3, 3 and 2 samples)\n";
  nn::GhostBatchNorm1d<float> ghost(nn::BatchNormOptions(3), 3);
  nn::BatchNorm1d<float> chunked(3);
  auto yg = ghost(x);
  auto yc = hnn::cat(std::vector<hnn::Tensor<float>>{chunked(x.narrow(0, 0, 3)), chunked(x.narrow(0, 3, 3)),
                                                     chunked(x.narrow(0, 6, 2))},
                     0);
  std::cout << "  " << ghost << "\n  output:\n" << yg << "\n";
  expect(max_diff(yg, yc) == 0.0, "equals BatchNorm1d called on each chunk in turn");
  expect(ghost.num_batches_tracked() == 3, "one running-statistics update per virtual batch");
  expect(max_diff(yg, plain(x)) > 0.1, "and differs from one BatchNorm over the whole batch");

  // ---- masked --------------------------------------------------------------------------------------
  std::cout << "\n4) Masked batch norm over padded sequences (N=2, C=3, L=4; lengths 4 and 2)\n";
  auto seq = hnn::randn<float>({2, 3, 4}, gen) + 1.0f;
  {
    hnn::NoGradGuard guard;
    seq.narrow(0, 1, 1).narrow(2, 2, 2).fill_(0.0f);  // the padding of the second sequence
  }
  const auto mask = hnn::tensor<int64_t>({1, 1, 1, 1, 1, 1, 0, 0}, {2, 4});
  nn::MaskedBatchNorm1d<float> masked(3);
  nn::BatchNorm1d<float> padded(3);
  auto ym = masked.forward(seq, mask);
  padded(seq);
  std::cout << "  " << masked << "\n  output (padding stays 0):\n" << ym << "\n";
  std::cout << "  running_mean over the 6 valid positions: " << masked.running_mean() << "\n";
  std::cout << "  running_mean of plain BatchNorm1d, padding included: " << padded.running_mean() << "\n";
  const auto yv = ym.to_vector();
  expect(yv[4 * 3 + 2] == 0.0f && yv[4 * 3 + 3] == 0.0f, "padded positions are 0");
  expect(max_diff(masked.running_mean(), padded.running_mean()) > 1e-3,
         "the padding no longer drags the statistics toward 0");

  std::cout << "\n" << (failures ? "FAILED" : "all checks passed") << "\n";
  return failures ? 1 : 0;
}
