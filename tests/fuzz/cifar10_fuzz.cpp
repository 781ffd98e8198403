// libFuzzer target: one CIFAR-10 binary batch (test_batch.bin) read by the CIFAR10 dataset through the
// path API in a per-process tmpfs folder; every image and label it returns is checked for range.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <hnn/data/cifar10.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  static const fs::path dir = hnn_fuzz::make_scratch_subdir("cifar10");
  hnn_fuzz::write_file(dir / "test_batch.bin", data, size);
  return hnn_fuzz::run_expecting_documented_errors([&] {
    const hnn::data::CIFAR10<float> cifar(dir.string(), false);
    const auto& images = cifar.images();
    const auto& labels = cifar.targets();
    if (images.numel() != cifar.size() * 3 * 32 * 32 || labels.numel() != cifar.size()) __builtin_trap();
    if (!hnn_fuzz::all_in_range(images.data(), images.numel(), 0.0f, 1.0f)) __builtin_trap();
    if (!hnn_fuzz::all_in_range<int64_t>(labels.data(), labels.numel(), 0, 9)) __builtin_trap();
  });
}
