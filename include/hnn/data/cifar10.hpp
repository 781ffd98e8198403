// CIFAR10(root, train): the CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin) as float
// images (3, 32, 32) in [0, 1] and int64 labels 0..9. Depends on data/binary_file.hpp,
// data/tensor_dataset.hpp and core/parallel.hpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "hnn/core/parallel.hpp"
#include "hnn/data/binary_file.hpp"
#include "hnn/data/tensor_dataset.hpp"

namespace hnn::data {

/// The CIFAR-10 training set (train=true: data_batch_1.bin .. data_batch_5.bin, 50 000 samples) or test
/// set (test_batch.bin, 10 000) from `root` or root/cifar-10-batches-bin (the archive's folder). Each
/// 3073-byte record is a label byte and 3072 pixel bytes, channel-major (R plane, G, B), read into one
/// contiguous (N, 3, 32, 32) tensor of pixel / 255, in file order, as torchvision's CIFAR10 + ToTensor.
template <class T = float>
class CIFAR10 : public TensorDataset<T, int64_t> {
  static_assert(std::is_floating_point_v<T>, "hnn::data::CIFAR10: images are float or double");

 public:
  static constexpr int64_t image_bytes = int64_t{3} * 32 * 32;
  static constexpr int64_t record_bytes = 1 + image_bytes;

  CIFAR10(const std::string& root, bool train = true) : CIFAR10(load(root, train)) {}

  /// All images (N, 3, 32, 32) and labels (N).
  const Tensor<T>& images() const { return this->data(); }

  /// The batch files of the training (5) or test (1) split; throws std::runtime_error listing what was
  /// looked for when they are missing.
  static std::vector<std::filesystem::path> find_files(const std::string& root, bool train) {
    namespace fs = std::filesystem;
    std::vector<std::string> names;
    if (train) {
      for (int k = 1; k <= 5; ++k) names.push_back("data_batch_" + std::to_string(k) + ".bin");
    } else {
      names.push_back("test_batch.bin");
    }
    for (const fs::path& dir : {fs::path(root), fs::path(root) / "cifar-10-batches-bin"}) {
      std::error_code ec;
      if (!fs::is_regular_file(dir / names[0], ec)) continue;
      std::vector<fs::path> paths;
      for (const auto& name : names) {
        HNN_CHECK_RUNTIME(fs::is_regular_file(dir / name, ec),
                          "hnn::data::CIFAR10: ", (dir / names[0]).string(), " exists but ",
                          (dir / name).string(), " is missing");
        paths.push_back(dir / name);
      }
      return paths;
    }
    throw std::runtime_error("hnn::data::CIFAR10: no " + names[0] + " in " + root + " or " +
                             (fs::path(root) / "cifar-10-batches-bin").string());
  }

 private:
  using Loaded = std::pair<Tensor<T>, Tensor<int64_t>>;
  explicit CIFAR10(Loaded loaded) : TensorDataset<T, int64_t>(loaded.first, loaded.second) {}

  static Loaded load(const std::string& root, bool train) {
    const auto paths = find_files(root, train);
    // Sizes from the file system first: the output is allocated once, from sizes that exist on disk.
    int64_t total = 0;
    std::vector<int64_t> counts;
    for (const auto& path : paths) {
      const auto size = static_cast<int64_t>(std::filesystem::file_size(path));
      check_size(path.string(), size);
      counts.push_back(size / record_bytes);
      total += counts.back();
    }
    auto images = Tensor<T>::empty(Shape{total, 3, 32, 32});
    auto labels = Tensor<int64_t>::empty(Shape{total});
    int64_t first = 0;
    for (size_t f = 0; f < paths.size(); ++f) {
      const auto bytes = detail::read_file_bytes(paths[f]);
      const std::string name = paths[f].string();
      check_size(name, static_cast<int64_t>(bytes.size()));
      HNN_CHECK_RUNTIME(static_cast<int64_t>(bytes.size()) == counts[f] * record_bytes, name,
                        ": the file changed size while it was read");
      T* out = images.data() + first * image_bytes;
      int64_t* targets = labels.data() + first;
      for (int64_t r = 0; r < counts[f]; ++r) {
        const unsigned char label = bytes[static_cast<size_t>(r * record_bytes)];
        HNN_CHECK_RUNTIME(label < 10, name, ": bad label ", static_cast<int>(label), " at byte offset ",
                          r * record_bytes, " (record ", r, "): CIFAR-10 labels are 0..9");
        targets[r] = label;
      }
      const unsigned char* in = bytes.data();
      parallel_for(counts[f], 16, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const unsigned char* pixels = in + r * record_bytes + 1;
          T* dst = out + r * image_bytes;
          for (int64_t i = 0; i < image_bytes; ++i) dst[i] = static_cast<T>(pixels[i]) / T(255);
        }
      });
      first += counts[f];
    }
    return {std::move(images), std::move(labels)};
  }

  static void check_size(const std::string& name, int64_t size) {
    HNN_CHECK_RUNTIME(size > 0, name, ": empty file: a CIFAR-10 batch holds 3073-byte records");
    HNN_CHECK_RUNTIME(size % record_bytes == 0, name, ": truncated record at byte offset ",
                      size / record_bytes * record_bytes, ": file has ", size,
                      " bytes, not a multiple of the ", record_bytes,
                      "-byte record (1 label byte + 3x32x32 pixels)");
  }
};

}  // namespace hnn::data
