// libFuzzer target: the MNIST dataset loader on a label file and an image file, each plain or gzip
// (chosen by its name, as MNIST::find_file does), through the path API in a per-process tmpfs folder.
// Input framing: [flags][labels length, u32 little-endian][labels bytes][images bytes]; flags bit 0 names
// the label file .gz, bit 1 the image file, bit 2 picks the training-set names over t10k. A length past
// the end is clamped, so every input is usable.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <hnn/data/mnist.hpp>
#include <string>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  if (size < 5) return 0;
  const unsigned flags = data[0];
  const size_t labels_size = std::min<size_t>(hnn_fuzz::load_le(data + 1, 4), size - 5);
  const uint8_t* labels = data + 5;
  const uint8_t* images = labels + labels_size;
  const size_t images_size = size - 5 - labels_size;

  static const fs::path dir = hnn_fuzz::make_scratch_subdir("mnist");
  const std::string prefix = (flags & 4) ? "train" : "t10k";
  for (const char* stem : {"-labels-idx1-ubyte", "-images-idx3-ubyte"})
    for (const char* suffix : {"", ".gz"}) ::unlink((dir / (prefix + stem + suffix)).c_str());
  hnn_fuzz::write_file(dir / (prefix + "-labels-idx1-ubyte" + ((flags & 1) ? ".gz" : "")), labels,
                       labels_size);
  hnn_fuzz::write_file(dir / (prefix + "-images-idx3-ubyte" + ((flags & 2) ? ".gz" : "")), images,
                       images_size);

  return hnn_fuzz::run_expecting_documented_errors([&] {
    const hnn::data::MNIST<float> mnist(dir.string(), (flags & 4) != 0);
    // Every sample must be in range: pixels in [0, 1], labels a byte.
    const auto& pixels = mnist.images();
    if (!hnn_fuzz::all_in_range(pixels.data(), pixels.numel(), 0.0f, 1.0f)) __builtin_trap();
    if (pixels.dim() != 4 || pixels.size(0) != mnist.size()) __builtin_trap();
  });
}
