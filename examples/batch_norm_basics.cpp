// Batch norm, step by step, on the PyTorch walkthrough input arange(9).reshape(3, 3): the training
// output, the running statistics after one step (checked by hand against the momentum formula), eval
// mode before any training, affine=false, and cumulative averaging (momentum=None).
#include <cmath>
#include <cstdlib>
#include <hnn/hnn.hpp>
#include <iostream>

namespace nn = hnn::nn;

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  std::cout << (ok ? "  [ok]   " : "  [FAIL] ") << what << "\n";
  if (!ok) ++failures;
}

bool near(double a, double b, double tol = 1e-4) { return std::abs(a - b) < tol; }

}  // namespace

int main() {
  auto x = hnn::arange<float>(9).reshape({3, 3});
  std::cout << "x = arange(9).reshape(3, 3):\n" << x << "\n\n";

  nn::BatchNorm1d bn(3);
  std::cout << bn << "\n\n";

  // Training: each column is normalised with its batch mean and biased batch variance.
  // Column 0 holds 0, 3, 6: mean 3, biased variance 6, so y = (x - 3) / sqrt(6 + 1e-5) = -1.2247, 0, 1.2247.
  auto y = bn(x);
  std::cout << "train-mode output bn(x):\n" << y << "\n\n";
  auto yv = y.to_vector();
  expect(near(yv[0], -1.2247) && near(yv[4], 0.0) && near(yv[8], 1.2247),
         "outputs are -1.2247, 0, 1.2247 per column");

  // The running statistics use the UNBIASED variance (9 for every column) and
  //   running = (1 - momentum) * running + momentum * batch,  momentum = 0.1:
  //   running_mean = 0.9 * 0 + 0.1 * [3, 4, 5] = [0.3, 0.4, 0.5]
  //   running_var  = 0.9 * 1 + 0.1 * 9         = 1.8
  std::cout << "running_mean: " << bn.running_mean() << "\n";
  std::cout << "running_var:  " << bn.running_var() << "\n";
  std::cout << "num_batches_tracked: " << bn.num_batches_tracked() << "\n\n";
  auto rm = bn.running_mean().to_vector(), rv = bn.running_var().to_vector();
  for (int c = 0; c < 3; ++c) {
    double batch_mean = 3.0 + c, batch_var_unbiased = 9.0;
    double by_hand_mean = 0.9 * 0.0 + 0.1 * batch_mean, by_hand_var = 0.9 * 1.0 + 0.1 * batch_var_unbiased;
    expect(near(rm[static_cast<size_t>(c)], by_hand_mean) && near(rv[static_cast<size_t>(c)], by_hand_var),
           "running stats equal the momentum formula computed by hand");
  }

  // Eval mode uses the running statistics. A fresh module has mean 0 and variance 1, so its eval
  // output is the input itself (divided by sqrt(1 + eps)).
  nn::BatchNorm1d fresh(3);
  fresh.eval();
  auto ye = fresh(x);
  std::cout << "eval-mode output of an untrained module:\n" << ye << "\n\n";
  expect(near(ye.to_vector()[8], 8.0, 1e-3), "eval before training returns the input");

  // The trained module in eval mode: (x - running_mean) / sqrt(running_var + eps).
  bn.eval();
  auto y_eval = bn(x);
  std::cout << "eval-mode output after one training step:\n" << y_eval << "\n\n";
  expect(near(y_eval.to_vector()[0], (0.0 - 0.3) / std::sqrt(1.8 + 1e-5)),
         "eval uses the running statistics");

  // affine=false: no weight or bias, nothing to learn.
  nn::BatchNorm1d plain(nn::BatchNormOptions(3).affine(false));
  std::cout << plain << "  parameters: " << plain.parameters().size() << "\n";
  expect(!plain.weight().defined() && plain.parameters().empty(), "affine=false has no parameters");

  // momentum=None: a cumulative average, factor 1 / num_batches_tracked.
  nn::BatchNorm1d cumulative(nn::BatchNormOptions(3).momentum(std::nullopt));
  cumulative(x);
  cumulative(x * 2.0f);
  // Batch means [3, 4, 5] then [6, 8, 10]: running_mean = their average = [4.5, 6, 7.5].
  std::cout << cumulative << "\n  running_mean after two batches: " << cumulative.running_mean() << "\n";
  auto cm = cumulative.running_mean().to_vector();
  expect(near(cm[0], 4.5) && near(cm[1], 6.0) && near(cm[2], 7.5),
         "momentum=None averages all batches equally");

  std::cout << "\n" << (failures == 0 ? "all checks passed" : "some checks FAILED") << "\n";
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
