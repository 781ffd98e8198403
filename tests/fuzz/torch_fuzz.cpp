// libFuzzer target: read_torch (zip end records and central directory, local headers, the pickle machine,
// persistent ids, views over storages) on a file in a per-process tmpfs folder. Input: byte 0 even -> the
// rest is the file; odd -> the rest is a data.pkl that the harness wraps in a torch.save archive with
// storages archive/data/0..15 (512 patterned bytes each) and a byteorder record "big" (bit 1), "little" (bit
// 2) or none, so mutations reach the pickle machine without first having to keep a zip consistent.
// tests/io/torch_format_test.cpp replays regressions/torch/ with the same framing. A file it accepts must
// hold what it promises (each tensor's element count matches its shape, every value readable) and survive
// write_torch + read_torch with the same keys, dtypes, shapes and bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <hnn/io/torch_format.hpp>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_support.hpp"

namespace {

namespace tf = hnn::io::detail::torch_file;

std::string wrap_pickle(unsigned char selector, const uint8_t* pickle, size_t size) {
  static const std::vector<std::pair<std::string, std::string>> storages = [] {
    std::vector<std::pair<std::string, std::string>> out;
    for (int k = 0; k < 16; ++k) {
      std::string bytes(512, '\0');
      for (size_t j = 0; j < bytes.size(); ++j)
        bytes[j] = static_cast<char>((k * 31 + static_cast<int>(j) * 7) & 0xff);
      out.emplace_back("archive/data/" + std::to_string(k), std::move(bytes));
    }
    return out;
  }();
  std::vector<std::pair<std::string, std::string>> records = {
      {"archive/data.pkl", std::string(reinterpret_cast<const char*>(pickle), size)}};
  if (selector & 6) records.emplace_back("archive/byteorder", (selector & 2) ? "big" : "little");
  records.insert(records.end(), storages.begin(), storages.end());
  records.emplace_back("archive/version", "3\n");
  return tf::zip_archive(records);
}

bool same_bytes(const hnn::AnyTensor<hnn::CPU>& a, const hnn::AnyTensor<hnn::CPU>& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  if (a.numel() == 0) return true;
  switch (a.dtype()) {
    case hnn::Dtype::Float32:
      return std::memcmp(a.as<float>().data(), b.as<float>().data(), sizeof(float) * size_t(a.numel())) == 0;
    case hnn::Dtype::Float64:
      return std::memcmp(a.as<double>().data(), b.as<double>().data(), sizeof(double) * size_t(a.numel())) ==
             0;
    default:
      return std::memcmp(a.as<int64_t>().data(), b.as<int64_t>().data(),
                         sizeof(int64_t) * size_t(a.numel())) == 0;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  if (size == 0) return 0;
  static const fs::path dir = hnn_fuzz::make_scratch_subdir("torch");
  const std::string path = (dir / "input.pt").string();
  const std::string copy = (dir / "copy.pt").string();
  if (data[0] & 1) {
    const std::string file = wrap_pickle(data[0], data + 1, size - 1);
    hnn_fuzz::write_file(path, reinterpret_cast<const uint8_t*>(file.data()), file.size());
  } else {
    hnn_fuzz::write_file(path, data + 1, size - 1);
  }

  return hnn_fuzz::run_expecting_documented_errors([&] {
    const auto content = hnn::io::read_torch(path);
    double checksum = 0;
    for (const auto& [key, tensor] : content.tensors) {
      if (!tensor.defined() || tensor.numel() != tensor.shape().numel()) __builtin_trap();
      for (double v : tensor.to_vector()) checksum += v;
    }
    volatile double sink = checksum;
    (void)sink;

    // Keys repeat only if the reader failed to merge them; write_torch would refuse them.
    hnn::io::write_torch(copy, content.tensors);
    const auto again = hnn::io::read_torch(copy);
    if (again.tensors.size() != content.tensors.size()) __builtin_trap();
    for (size_t i = 0; i < content.tensors.size(); ++i)
      if (again.tensors[i].first != content.tensors[i].first ||
          !same_bytes(again.tensors[i].second, content.tensors[i].second))
        __builtin_trap();
  });
}
