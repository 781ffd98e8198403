// lenet_soak: the long memory soak (issue #8), a program rather than a ctest test because it runs for
// minutes. Trains LeNet-BN on synthetic data with batch 32 on one thread, prints the resident set size
// every --every steps and exits 1 when the peak RSS at the end exceeds the peak after --reference-step by
// more than 2 % (at least 4 MiB). The suite runs the short version (tests/soak/lenet_soak_test.cpp).
//
//   lenet_soak [--steps 20000] [--reference-step 1000] [--every 1000] [--batch-size 32] [--threads 1]
//
// Built as the target lenet_soak with the tests (build/tests/lenet_soak); under AddressSanitizer the RSS
// bound is meaningless (freed memory sits in quarantine), so run it from a plain build.
#include "lenet_soak.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

namespace {

int64_t parse_count(const char* flag, const char* text) {
  char* end = nullptr;
  const long long value = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || value < 1)
    throw std::invalid_argument(std::string(flag) + " expects a positive integer, got \"" + text + "\"");
  return value;
}

double mib(long bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

}  // namespace

int main(int argc, char** argv) try {
  hnn::test::SoakOptions options;
  int64_t threads = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf(
          "usage: lenet_soak [--steps 20000] [--reference-step 1000] [--every 1000] [--batch-size 32] "
          "[--threads 1]\n");
      return 0;
    }
    if (i + 1 >= argc) throw std::invalid_argument(flag + " expects a value");
    const char* value = argv[++i];
    if (flag == "--steps")
      options.steps = parse_count("--steps", value);
    else if (flag == "--reference-step")
      options.reference_step = parse_count("--reference-step", value);
    else if (flag == "--every")
      options.report_every = parse_count("--every", value);
    else if (flag == "--batch-size")
      options.batch_size = parse_count("--batch-size", value);
    else if (flag == "--threads")
      threads = parse_count("--threads", value);
    else
      throw std::invalid_argument("unknown option " + flag + " (see --help)");
  }
  hnn::set_num_threads(static_cast<int>(threads));
  std::printf(
      "LeNet-BN soak: %lld steps of batch %lld on %lld thread(s); baseline = peak RSS after step %lld\n",
      static_cast<long long>(options.steps), static_cast<long long>(options.batch_size),
      static_cast<long long>(threads), static_cast<long long>(options.reference_step));
  std::printf("%8s %10s %10s %11s %9s %9s\n", "step", "rss_MiB", "peak_MiB", "cached_MiB", "loss",
              "eval_loss");
  const auto result = hnn::test::run_lenet_soak(options, [](const hnn::test::SoakSample& s) {
    std::printf("%8lld %10.2f %10.2f %11.2f %9.4f %9.4f\n", static_cast<long long>(s.step), mib(s.rss_bytes),
                mib(s.peak_rss_bytes), mib(s.cached_bytes), s.loss, s.eval_loss);
    std::fflush(stdout);
  });
  const long growth = result.final_peak_bytes - result.reference_peak_bytes;
  std::printf("peak RSS %.2f MiB after step %lld, %.2f MiB at the end: %+.2f MiB (allowed %.2f MiB) -> %s\n",
              mib(result.reference_peak_bytes), static_cast<long long>(options.reference_step),
              mib(result.final_peak_bytes), mib(growth), mib(result.allowed_growth_bytes),
              result.within_bound() ? "flat" : "GROWING");
  return result.within_bound() ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "lenet_soak: %s\n", e.what());
  return 2;
}
