// The body of the two in-memory IDX harnesses: an input starting with the gzip magic (1f 8b) is
// decompressed first, as read_maybe_gzipped does for a .gz file; then IdxFile parses it and every payload
// byte is read, so a payload that overruns the buffer shows up under AddressSanitizer.
// Depends on data/idx.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <hnn/data/idx.hpp>
#include <vector>

#include "fuzz_support.hpp"

namespace hnn_fuzz {

inline int fuzz_idx(const uint8_t* data, size_t size, int64_t ndim, const char* what) {
  return run_expecting_documented_errors([&] {
    std::vector<unsigned char> bytes(data, data + size);
    const bool gzipped = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if (gzipped) bytes = hnn::data::detail::gunzip(bytes, "fuzz.gz");
    const hnn::data::IdxFile idx(gzipped ? "fuzz.gz (decompressed)" : "fuzz", std::move(bytes), ndim, what);
    if (static_cast<int64_t>(idx.sizes().size()) != ndim) __builtin_trap();
    volatile unsigned sink = checksum(idx.data(), idx.numel());
    (void)sink;
  });
}

}  // namespace hnn_fuzz
