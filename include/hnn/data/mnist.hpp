// MNIST(root, train): MNIST and Fashion-MNIST from their IDX files (plain or .gz), as torchvision's
// datasets give them: float images (1, rows, cols) in [0, 1] and int64 labels. Depends on data/idx.hpp,
// data/tensor_dataset.hpp and core/parallel.hpp (parallel byte-to-float conversion).
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "hnn/core/parallel.hpp"
#include "hnn/data/idx.hpp"
#include "hnn/data/tensor_dataset.hpp"

namespace hnn::data {

/// The MNIST training set (train=true: train-images-idx3-ubyte / train-labels-idx1-ubyte, 60 000 samples)
/// or test set (t10k-..., 10 000 samples) found in `root` (also in root/raw, root/MNIST/raw or
/// root/FashionMNIST/raw, torchvision's layouts). A plain file is preferred over its .gz twin; a .gz
/// file needs HNN_WITH_ZLIB. Sample i is (image (1, rows, cols) with pixel / 255, label) in file order,
/// stored as one contiguous (N, 1, rows, cols) tensor so batches are gathered with one memcpy per row.
template <class T = float>
class MNIST : public TensorDataset<T, int64_t> {
  static_assert(std::is_floating_point_v<T>, "hnn::data::MNIST: images are float or double");

 public:
  MNIST(const std::string& root, bool train = true) : MNIST(load(root, train)) {}

  /// All images (N, 1, rows, cols) and labels (N).
  const Tensor<T>& images() const { return this->data(); }

  /// The path of the IDX file `stem` (e.g. "train-images-idx3-ubyte") under `root`, plain or .gz.
  static std::filesystem::path find_file(const std::string& root, const std::string& stem) {
    namespace fs = std::filesystem;
    const fs::path base(root);
    std::vector<fs::path> tried;
    for (const fs::path& dir : {base, base / "raw", base / "MNIST" / "raw", base / "FashionMNIST" / "raw"}) {
      for (const char* suffix : {"", ".gz"}) {
        fs::path candidate = dir / (stem + suffix);
        std::error_code ec;
        if (fs::is_regular_file(candidate, ec)) {
          HNN_CHECK_RUNTIME(
              *suffix == '\0' || detail::has_zlib, candidate.string(), ": found only the gzip-",
              "compressed file, but hnn was built without zlib; define HNN_WITH_ZLIB and link zlib ",
              "(-lz), or run gunzip on it");
          return candidate;
        }
        tried.push_back(std::move(candidate));
      }
    }
    std::string list;
    for (const auto& path : tried) list += "\n  " + path.string();
    throw std::runtime_error("hnn::data::MNIST: no file " + stem + " in " + root + "; looked for:" + list);
  }

 private:
  using Loaded = std::pair<Tensor<T>, Tensor<int64_t>>;
  explicit MNIST(Loaded loaded) : TensorDataset<T, int64_t>(loaded.first, loaded.second) {}

  static Loaded load(const std::string& root, bool train) {
    const std::string prefix = train ? "train" : "t10k";
    const auto image_path = find_file(root, prefix + "-images-idx3-ubyte");
    const auto label_path = find_file(root, prefix + "-labels-idx1-ubyte");
    // Labels first: the small file, so a mismatch is found before the large one is converted.
    IdxFile labels(label_path, 1, "label");
    IdxFile images(image_path, 3, "image");
    const int64_t n = images.sizes()[0], rows = images.sizes()[1], cols = images.sizes()[2];
    HNN_CHECK_RUNTIME(rows > 0 && cols > 0, images.name(), ": header at byte offset 8 declares images of ",
                      rows, "x", cols, " pixels; both sizes must be positive");
    HNN_CHECK_RUNTIME(labels.sizes()[0] == n, "hnn::data::MNIST: label/image count mismatch: ", labels.name(),
                      " declares ", labels.sizes()[0], " labels at byte offset 4, ", images.name(),
                      " declares ", n, " images at byte offset 4");

    auto image_tensor = Tensor<T>::empty(Shape{n, 1, rows, cols});
    const unsigned char* pixels = images.data();
    T* out = image_tensor.data();
    // torchvision's ToTensor divides by 255 (not a multiply by 1/255): the same rounding here.
    parallel_for(images.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) out[i] = static_cast<T>(pixels[i]) / T(255);
    });
    auto label_tensor = Tensor<int64_t>::empty(Shape{n});
    const unsigned char* label_bytes = labels.data();
    int64_t* targets = label_tensor.data();
    for (int64_t i = 0; i < n; ++i) targets[i] = label_bytes[i];
    return {std::move(image_tensor), std::move(label_tensor)};
  }
};

}  // namespace hnn::data
