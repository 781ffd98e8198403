// libFuzzer target: an IDX image file (three dimensions), plain or gzip, parsed in memory by IdxFile.
#include "idx_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return hnn_fuzz::fuzz_idx(data, size, 3, "image");
}
