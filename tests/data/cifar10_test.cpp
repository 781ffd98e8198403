// hnn::data::CIFAR10 on tiny binary batches the test writes: layout (3, 32, 32) in [0, 1], file order
// across the five training batches, the cifar-10-batches-bin subfolder, and malformed files.
#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <hnn/data/cifar10.hpp>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using hnn::data::CIFAR10;

namespace {

/// `records` CIFAR records; record r of batch b has label (b + r) % 10 and pixel i = (i + 13 b + r) % 256.
std::vector<unsigned char> batch_bytes(int b, int records) {
  std::vector<unsigned char> bytes;
  for (int r = 0; r < records; ++r) {
    bytes.push_back(static_cast<unsigned char>((b + r) % 10));
    for (int i = 0; i < 3072; ++i) bytes.push_back(static_cast<unsigned char>((i + 13 * b + r) % 256));
  }
  return bytes;
}

void write(const fs::path& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::current_path() / ("cifar10_test_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string load_error(const fs::path& root, bool train) {
  try {
    CIFAR10 dataset(root.string(), train);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("CIFAR10 reads the training and test batches in file order", "[data][cifar10]") {
  const auto root = fresh_dir("good");
  const auto dir = root / "cifar-10-batches-bin";
  fs::create_directories(dir);
  for (int b = 1; b <= 5; ++b) write(dir / ("data_batch_" + std::to_string(b) + ".bin"), batch_bytes(b, b));
  write(dir / "test_batch.bin", batch_bytes(0, 2));

  CIFAR10 train(root.string(), true);
  REQUIRE(train.size() == 1 + 2 + 3 + 4 + 5);
  CHECK(train.images().shape() == hnn::Shape{15, 3, 32, 32});
  int64_t index = 0;
  for (int b = 1; b <= 5; ++b) {
    for (int r = 0; r < b; ++r, ++index) {
      const auto example = train.get(index);
      REQUIRE(example.data.shape() == hnn::Shape{3, 32, 32});
      CHECK(example.target.item() == (b + r) % 10);
      const auto pixels = example.data.to_vector();
      // Channel-major: element (c, y, x) is byte c * 1024 + y * 32 + x of the record's pixels.
      for (int i : {0, 1, 1023, 1024, 2047, 2048, 3071})
        CHECK(pixels[static_cast<size_t>(i)] == static_cast<float>((i + 13 * b + r) % 256) / 255.0f);
    }
  }
  CIFAR10 test(dir.string(), false);  // the folder itself works too
  REQUIRE(test.size() == 2);
  CHECK(test.get(1).target.item() == 1);
  CHECK(test.get(1).data.to_vector()[5] == 6.0f / 255.0f);
}

TEST_CASE("CIFAR10 rejects missing and malformed batches", "[data][cifar10]") {
  const auto root = fresh_dir("bad");
  CHECK_THAT(load_error(root, false), Catch::Contains("no test_batch.bin"));
  write(root / "data_batch_1.bin", batch_bytes(1, 1));
  CHECK_THAT(load_error(root, true), Catch::Contains("data_batch_2.bin is missing"));

  auto truncated = batch_bytes(0, 3);
  truncated.erase(truncated.end() - 100, truncated.end());
  write(root / "test_batch.bin", truncated);
  CHECK_THAT(load_error(root, false),
             Catch::Contains("test_batch.bin: truncated record at byte offset 6146") &&
                 Catch::Contains("not a multiple of the 3073-byte record"));
  write(root / "test_batch.bin", {});
  CHECK_THAT(load_error(root, false), Catch::Contains("empty file"));
  auto bad_label = batch_bytes(0, 3);
  bad_label[3073] = 10;
  write(root / "test_batch.bin", bad_label);
  CHECK_THAT(load_error(root, false), Catch::Contains("bad label 10 at byte offset 3073 (record 1)"));
}
