// The entry point of every CUDA test executable (tests/cuda/*_test.cpp define CATCH_CONFIG_RUNNER and call
// this from main): runs the Catch2 session when a CUDA device exists, otherwise prints why not and returns
// 77, which ctest reports as skipped (SKIP_RETURN_CODE in tests/cuda/CMakeLists.txt). Listing the tests
// (--list-tests, -l, -h, --help) always works, so ctest can discover them on a machine without a GPU.
#pragma once

#include <catch2/catch.hpp>
#include <cstring>
#include <hnn/cuda.hpp>
#include <iostream>

namespace hnn::test {

/// `unmet`: a precondition of this test program that the build lacks (nullptr when none), reported as the
/// reason for skipping.
inline int run_cuda_tests(int argc, char* argv[], const char* unmet = nullptr) {
  bool listing = false;
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    if (std::strncmp(arg, "--list", 6) == 0 || std::strcmp(arg, "-l") == 0 || std::strcmp(arg, "-h") == 0 ||
        std::strcmp(arg, "--help") == 0)
      listing = true;
  }
  if (!listing && unmet != nullptr) {
    std::cout << "SKIPPED: " << unmet << "\n";
    return 77;
  }
  // Without a GPU or driver cudaGetDeviceCount fails (cudaErrorNoDevice / cudaErrorInsufficientDriver)
  // and leaves the count alone, hence hnn::cuda::device_count() starting from 0.
  if (!listing && !hnn::cuda::is_available()) {
    std::cout << "SKIPPED: no CUDA device (cudaGetDeviceCount found none); the CUDA tests need a GPU\n";
    return 77;
  }
  return Catch::Session().run(argc, argv);
}

}  // namespace hnn::test
