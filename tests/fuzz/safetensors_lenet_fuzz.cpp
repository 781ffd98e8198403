// libFuzzer target: hnn::load (strict) of a safetensors file into the LeNet-BN of examples/lenet.cpp, which
// exercises the key, shape and dtype checks and the float conversions of load_state_dict.
// Input framing: [zero tail, u32 little-endian][file bytes]. The file is the bytes followed by `zero tail`
// zero bytes (capped at 4 MiB; a hole in tmpfs, so free to write), so inputs stay as small as the JSON header
// while their data buffers are as large as a real LeNet's: the fuzzer spends its time on the header.
// After a successful load, every entry of the model's state_dict must equal the file's tensor.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <hnn/io.hpp>
#include <string>

#include "fuzz_support.hpp"
#include "models.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  if (size < 4) return 0;
  static auto model = hnn_fuzz::make_lenet_bn();
  static const fs::path dir = hnn_fuzz::make_scratch_subdir("lenet");
  const std::string path = (dir / "lenet.safetensors").string();
  const size_t zero_tail = std::min<uint64_t>(hnn_fuzz::load_le(data, 4), uint64_t(4) << 20);
  hnn_fuzz::write_file(path, data + 4, size - 4, zero_tail);

  return hnn_fuzz::run_expecting_documented_errors([&] {
    hnn::load(model, path);
    const auto file = hnn::io::read_safetensors(path);
    for (const auto& [key, value] : model.state_dict()) {
      const auto& saved = file.at(key);
      if (saved.shape() != value.shape()) __builtin_trap();
      const auto got = value.to_vector<double>(), want = saved.to_vector<double>();
      for (size_t i = 0; i < got.size(); ++i)
        if (!(got[i] == want[i] || (got[i] != got[i] && want[i] != want[i]) ||
              (value.dtype() == hnn::Dtype::Float32 &&
               static_cast<float>(want[i]) == static_cast<float>(got[i]))))
          __builtin_trap();
    }
  });
}
