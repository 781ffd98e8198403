// libFuzzer target: read_safetensors (header JSON, dtypes, shapes, offsets, data) on a file in a
// per-process tmpfs folder. A file it accepts must hold what it promises (each tensor's element count
// matches its shape, every value readable) and must survive write_safetensors + read_safetensors with the
// same keys, shapes, dtypes, bytes and metadata.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <hnn/io/safetensors.hpp>
#include <string>

#include "fuzz_support.hpp"

namespace {

bool same_bytes(const hnn::AnyTensor<hnn::CPU>& a, const hnn::AnyTensor<hnn::CPU>& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  if (a.numel() == 0) return true;  // no storage to compare (data() may be null)
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
  static const fs::path dir = hnn_fuzz::make_scratch_subdir("safetensors");
  const std::string path = (dir / "input.safetensors").string();
  const std::string copy = (dir / "copy.safetensors").string();
  hnn_fuzz::write_file(path, data, size);

  return hnn_fuzz::run_expecting_documented_errors([&] {
    const auto content = hnn::io::read_safetensors(path);
    double checksum = 0;
    for (const auto& [key, tensor] : content.tensors) {
      if (tensor.numel() != tensor.shape().numel()) __builtin_trap();
      for (double v : tensor.to_vector()) checksum += v;
    }
    volatile double sink = checksum;
    (void)sink;

    hnn::io::write_safetensors(copy, content.tensors, content.metadata);
    const auto again = hnn::io::read_safetensors(copy);
    if (again.metadata != content.metadata || again.tensors.size() != content.tensors.size())
      __builtin_trap();
    for (const auto& [key, tensor] : content.tensors)
      if (!again.contains(key) || !same_bytes(again.at(key), tensor)) __builtin_trap();
  });
}
