// The op-family test bodies of tests/support/op_families.hpp on hnn::CUDA (tests/ops/op_families_test.cpp
// runs the same bodies on hnn::CPU): elementwise arithmetic, copies, reductions and batch norm, each
// against a double reference computed by plain loops on the host. main() returns 77 (ctest: skipped)
// without a GPU.
#define CATCH_CONFIG_RUNNER
#include "cuda_test_main.hpp"
#include "op_families.hpp"

TEMPLATE_TEST_CASE("op families on CUDA", "[cuda][families]", float, double) {
  hnn::test::families::all_families<TestType, hnn::CUDA>();
}

int main(int argc, char* argv[]) { return hnn::test::run_cuda_tests(argc, argv); }
