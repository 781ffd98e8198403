// hnn::data::MNIST and IdxFile on small IDX files the test writes (plain, and gzip when HNN_WITH_ZLIB is
// defined), plus every malformed-file case: bad magic, truncated header and data, trailing data,
// label/image count mismatch, dimensions that overflow, a header claiming 2^31 images, bad gzip,
// and the inputs the fuzzer found (tests/fuzz/regressions/mnist).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <hnn/data/dataloader.hpp>
#include <hnn/data/mnist.hpp>
#include <iterator>
#include <string>
#include <vector>

#ifdef HNN_WITH_ZLIB
#include <zlib.h>
#endif

namespace fs = std::filesystem;
using hnn::data::MNIST;

namespace {

void put_be32(std::vector<unsigned char>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(v >> shift));
}

std::vector<unsigned char> idx_images(uint32_t n, uint32_t rows, uint32_t cols) {
  std::vector<unsigned char> bytes;
  put_be32(bytes, 0x00000803);
  put_be32(bytes, n);
  put_be32(bytes, rows);
  put_be32(bytes, cols);
  for (uint32_t i = 0; i < n * rows * cols; ++i)
    bytes.push_back(static_cast<unsigned char>((i * 7 + 3) % 256));
  return bytes;
}

std::vector<unsigned char> idx_labels(uint32_t n) {
  std::vector<unsigned char> bytes;
  put_be32(bytes, 0x00000801);
  put_be32(bytes, n);
  for (uint32_t i = 0; i < n; ++i) bytes.push_back(static_cast<unsigned char>((i * 3) % 10));
  return bytes;
}

void write(const fs::path& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

#ifdef HNN_WITH_ZLIB
void write_gz(const fs::path& path, const std::vector<unsigned char>& bytes) {
  gzFile file = gzopen(path.string().c_str(), "wb");
  REQUIRE(file != nullptr);
  REQUIRE(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  REQUIRE(gzclose(file) == Z_OK);
}
#endif

/// A fresh folder for one test case (test cases of one executable may run in parallel).
fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::current_path() / ("mnist_test_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string load_error(const fs::path& root, bool train = true) {
  try {
    MNIST dataset(root.string(), train);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

void check_samples(const MNIST<>& dataset, uint32_t n, uint32_t rows, uint32_t cols) {
  REQUIRE(dataset.size() == n);
  const auto images = idx_images(n, rows, cols);
  const auto labels = idx_labels(n);
  for (int64_t i = 0; i < dataset.size(); ++i) {
    const auto example = dataset.get(i);
    REQUIRE(example.data.shape() == hnn::Shape{1, rows, cols});
    REQUIRE(example.target.dim() == 0);
    CHECK(example.target.item() == labels[8 + static_cast<size_t>(i)]);
    const auto values = example.data.to_vector();
    for (size_t p = 0; p < values.size(); ++p) {
      // torchvision's ToTensor: byte / 255 in float.
      const float expected =
          static_cast<float>(images[16 + static_cast<size_t>(i) * rows * cols + p]) / 255.0f;
      REQUIRE(values[p] == expected);
    }
  }
}

}  // namespace

TEST_CASE("MNIST reads plain IDX files in file order with images in [0, 1]", "[data][mnist]") {
  const auto root = fresh_dir("plain");
  write(root / "train-images-idx3-ubyte", idx_images(5, 28, 28));
  write(root / "train-labels-idx1-ubyte", idx_labels(5));
  write(root / "t10k-images-idx3-ubyte", idx_images(3, 28, 28));
  write(root / "t10k-labels-idx1-ubyte", idx_labels(3));
  MNIST train(root.string(), true);
  MNIST test(root.string(), false);
  check_samples(train, 5, 28, 28);
  check_samples(test, 3, 28, 28);
  CHECK(train.images().shape() == hnn::Shape{5, 1, 28, 28});
  CHECK(train.targets().shape() == hnn::Shape{5});

  // An unshuffled loader yields the samples in index order, stacked as (B, 1, 28, 28) and (B).
  hnn::data::DataLoader loader(train, hnn::data::DataLoaderOptions().batch_size(2));
  int64_t next = 0;
  for (const auto& batch : loader) {
    REQUIRE(batch.data.shape()[1] == 1);
    for (int64_t b = 0; b < batch.target.size(0); ++b, ++next) {
      CHECK(batch.target.data()[b] == train.get(next).target.item());
      CHECK(batch.data.data()[b * 784 + 100] == train.get(next).data.data()[100]);
    }
  }
  CHECK(next == 5);
}

TEST_CASE("MNIST accepts other image sizes and torchvision's raw/ folder", "[data][mnist]") {
  const auto root = fresh_dir("raw");
  fs::create_directories(root / "FashionMNIST" / "raw");
  write(root / "FashionMNIST" / "raw" / "train-images-idx3-ubyte", idx_images(4, 3, 5));
  write(root / "FashionMNIST" / "raw" / "train-labels-idx1-ubyte", idx_labels(4));
  MNIST train(root.string(), true);
  check_samples(train, 4, 3, 5);
}

TEST_CASE("MNIST reads gzip-compressed IDX files or explains why it cannot", "[data][mnist]") {
  const auto root = fresh_dir("gz");
#ifdef HNN_WITH_ZLIB
  write_gz(root / "train-images-idx3-ubyte.gz", idx_images(6, 28, 28));
  write_gz(root / "train-labels-idx1-ubyte.gz", idx_labels(6));
  MNIST train(root.string(), true);
  check_samples(train, 6, 28, 28);

  // A plain file wins over its .gz twin.
  write(root / "train-labels-idx1-ubyte", idx_labels(6));
  check_samples(MNIST(root.string(), true), 6, 28, 28);

  // Not gzip at all, corrupt deflate data, and a stream cut short.
  write(root / "train-images-idx3-ubyte.gz", idx_images(6, 28, 28));
  CHECK_THAT(load_error(root), Catch::Contains("bad gzip magic at byte offset 0"));
  write_gz(root / "train-images-idx3-ubyte.gz", idx_images(6, 28, 28));
  {
    std::ifstream in(root / "train-images-idx3-ubyte.gz", std::ios::binary);
    std::vector<unsigned char> gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    auto corrupt = gz;
    for (size_t i = 12; i < 40 && i < corrupt.size(); ++i) corrupt[i] = 0xff;
    write(root / "train-images-idx3-ubyte.gz", corrupt);
    const auto message = load_error(root);
    CHECK_THAT(message, Catch::Contains("train-images-idx3-ubyte.gz") && Catch::Contains("gzip"));
    write(root / "train-images-idx3-ubyte.gz",
          std::vector<unsigned char>(gz.begin(), gz.begin() + gz.size() / 2));
    CHECK_THAT(load_error(root), Catch::Contains("truncated gzip data"));
  }
#else
  write(root / "train-images-idx3-ubyte.gz", idx_images(6, 28, 28));
  write(root / "train-labels-idx1-ubyte", idx_labels(6));
  CHECK_THAT(load_error(root),
             Catch::Contains("train-images-idx3-ubyte.gz") && Catch::Contains("HNN_WITH_ZLIB"));
#endif
}

#ifdef HNN_WITH_ZLIB
TEST_CASE("gunzip: outputs many times its scratch buffer, several members, lying size trailers",
          "[data][mnist]") {
  using hnn::data::detail::gunzip;
  const auto root = fresh_dir("gunzip");
  const auto read_bytes = [](const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<unsigned char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  // 300x28x28 images: 235 KB, well past the 64 KiB that one inflate call writes.
  const auto plain = idx_images(300, 28, 28);
  write_gz(root / "big.gz", plain);
  const auto gz = read_bytes(root / "big.gz");
  CHECK(gunzip(gz, "big.gz") == plain);

  // Two members, as `gzip -c a b` writes them, with trailing zero padding.
  const auto labels = idx_labels(70000);
  write_gz(root / "labels.gz", labels);
  auto two = gz;
  const auto second = read_bytes(root / "labels.gz");
  two.insert(two.end(), second.begin(), second.end());
  two.insert(two.end(), 5, 0);
  auto both = plain;
  both.insert(both.end(), labels.begin(), labels.end());
  CHECK(gunzip(two, "two.gz") == both);

  // The size trailer is only a hint: too small, zero or huge, the data decides.
  for (const uint32_t isize : {0u, 1u, 4096u, 0xffffffffu}) {
    auto lying = gz;
    for (int i = 0; i < 4; ++i) lying[lying.size() - 4 + i] = static_cast<unsigned char>(isize >> (8 * i));
    // zlib checks ISIZE against the data: a wrong one is a corrupt member, reported with its offset.
    CHECK_THROWS_WITH(gunzip(lying, "lying.gz"),
                      Catch::Contains("lying.gz") && Catch::Contains("byte offset"));
  }

  // Cut anywhere, including at a 64 KiB output boundary, the stream is reported truncated, never returned.
  for (const size_t keep : {size_t(18), gz.size() / 3, gz.size() / 2, gz.size() - 5, gz.size() - 1}) {
    const std::vector<unsigned char> cut(gz.begin(), gz.begin() + static_cast<std::ptrdiff_t>(keep));
    CHECK_THROWS_AS(gunzip(cut, "cut.gz"), std::runtime_error);
  }
}
#endif

TEST_CASE("MNIST reports missing files with the paths it tried", "[data][mnist]") {
  const auto root = fresh_dir("missing");
  const auto message = load_error(root);
  CHECK_THAT(message, Catch::Contains("train-images-idx3-ubyte") && Catch::Contains(root.string()));
}

TEST_CASE("MNIST rejects malformed IDX files with the file and byte offset", "[data][mnist]") {
  const auto root = fresh_dir("malformed");
  const auto images_path = root / "train-images-idx3-ubyte";
  write(root / "train-labels-idx1-ubyte", idx_labels(10));
  auto good = idx_images(10, 28, 28);

  SECTION("truncated image data") {
    write(images_path, std::vector<unsigned char>(good.begin(), good.begin() + 100));
    CHECK_THAT(load_error(root),
               Catch::Contains("train-images-idx3-ubyte: truncated image data at byte offset 16: "
                               "header declares 10 images of 28x28 (7840 bytes), file has 84"));
  }
  SECTION("bad magic number") {
    auto bad = good;
    bad[3] = 0x01;  // an idx1 header where images (idx3) are expected
    write(images_path, bad);
    CHECK_THAT(load_error(root), Catch::Contains("bad magic number at byte offset 0") &&
                                     Catch::Contains("0x00000803") && Catch::Contains("0x00000801"));
    bad = good;
    bad[2] = 0x0d;  // float data type
    write(images_path, bad);
    CHECK_THAT(load_error(root), Catch::Contains("bad magic number"));
  }
  SECTION("truncated header") {
    write(images_path, std::vector<unsigned char>(good.begin(), good.begin() + 2));
    CHECK_THAT(load_error(root), Catch::Contains("truncated header at byte offset 0"));
    write(images_path, std::vector<unsigned char>(good.begin(), good.begin() + 10));
    CHECK_THAT(load_error(root), Catch::Contains("truncated header at byte offset 4") &&
                                     Catch::Contains("16-byte header, file has 10 bytes"));
  }
  SECTION("trailing data") {
    auto longer = good;
    longer.push_back(0);
    write(images_path, longer);
    CHECK_THAT(load_error(root), Catch::Contains("trailing data at byte offset 7856"));
  }
  SECTION("label/image count mismatch") {
    write(images_path, good);
    write(root / "train-labels-idx1-ubyte", idx_labels(9));
    CHECK_THAT(load_error(root), Catch::Contains("label/image count mismatch") &&
                                     Catch::Contains("9 labels") && Catch::Contains("10 images"));
  }
  SECTION("truncated labels") {
    write(images_path, good);
    auto labels = idx_labels(10);
    labels.resize(12);
    write(root / "train-labels-idx1-ubyte", labels);
    CHECK_THAT(load_error(root),
               Catch::Contains("train-labels-idx1-ubyte: truncated label data at byte offset 8: "
                               "header declares 10 labels (10 bytes), file has 4"));
  }
  SECTION("a header claiming 2^31 images in a 1 KB file throws before allocating") {
    std::vector<unsigned char> huge;
    put_be32(huge, 0x00000803);
    put_be32(huge, 0x80000000u);
    put_be32(huge, 28);
    put_be32(huge, 28);
    huge.resize(1024, 0);
    write(images_path, huge);
    CHECK_THAT(load_error(root), Catch::Contains("truncated image data at byte offset 16") &&
                                     Catch::Contains("2147483648 images of 28x28"));
  }
  SECTION("dimensions whose product overflows int64") {
    std::vector<unsigned char> overflow;
    put_be32(overflow, 0x00000803);
    put_be32(overflow, 0xffffffffu);
    put_be32(overflow, 0xffffffffu);
    put_be32(overflow, 0xffffffffu);
    write(images_path, overflow);
    CHECK_THAT(load_error(root), Catch::Contains("dimensions overflow at byte offset 8"));
  }
  SECTION("zero-sized images") {
    write(images_path, idx_images(10, 0, 28));
    CHECK_THAT(load_error(root), Catch::Contains("both sizes must be positive"));
  }
}

TEST_CASE("IdxFile parses bytes in memory", "[data][mnist]") {
  hnn::data::IdxFile labels("labels", idx_labels(4), 1, "label");
  CHECK(labels.sizes() == std::vector<int64_t>{4});
  CHECK(labels.numel() == 4);
  CHECK(labels.data()[1] == 3);
  CHECK_THROWS_AS(hnn::data::IdxFile("empty", {}, 1, "label"), std::runtime_error);
}

// Inputs found by tests/fuzz/mnist_fuzz.cpp, committed in tests/fuzz/regressions/mnist/ in the harness's
// framing: [flags][labels length, u32 little-endian][label file][image file]; flags bit 2 = training names.
TEST_CASE("MNIST rejects the fuzzer's findings with the file and byte offset", "[data][mnist][fuzz]") {
  const fs::path regressions = fs::path(HNN_TEST_REFERENCES_DIR) / ".." / "fuzz" / "regressions" / "mnist";
  auto unframe_into = [](const fs::path& input, const fs::path& root) {
    std::ifstream in(input, std::ios::binary);
    REQUIRE(in);
    const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                           std::istreambuf_iterator<char>());
    REQUIRE(bytes.size() >= 5);
    const size_t labels = std::min<size_t>(
        uint32_t(bytes[1]) | uint32_t(bytes[2]) << 8 | uint32_t(bytes[3]) << 16 | uint32_t(bytes[4]) << 24,
        bytes.size() - 5);
    REQUIRE((bytes[0] & 3) == 0);  // plain files (no .gz names) in these inputs
    const std::string prefix = (bytes[0] & 4) ? "train" : "t10k";
    write(root / (prefix + "-labels-idx1-ubyte"), {bytes.begin() + 5, bytes.begin() + 5 + labels});
    write(root / (prefix + "-images-idx3-ubyte"),
          {bytes.begin() + 5 + static_cast<std::ptrdiff_t>(labels), bytes.end()});
    return (bytes[0] & 4) != 0;
  };

  // Was undefined behaviour: the shape (0, 1, 4294967295, 4294967040) overflowed contiguous_strides.
  SECTION("zero images of 4294967295x4294967040: no pixel, yet strides past int64") {
    const auto root = fresh_dir("fuzz_zero_images");
    const bool train = unframe_into(regressions / "zero_images_strides_overflow", root);
    CHECK_THAT(load_error(root, train),
               Catch::Contains("-images-idx3-ubyte: dimensions overflow at byte offset 12") &&
                   Catch::Contains("(0, 4294967295, 4294967040)"));
  }
  SECTION("the same header parsed in memory") {
    std::vector<unsigned char> header;
    put_be32(header, 0x00000803);
    put_be32(header, 0);
    put_be32(header, 0xffffffffu);
    put_be32(header, 0xffffff00u);
    CHECK_THROWS_WITH(hnn::data::IdxFile("zero-images", header, 3, "image"),
                      Catch::Contains("zero-images: dimensions overflow at byte offset 12"));
  }
}
