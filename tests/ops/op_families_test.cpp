// The op-family test bodies of tests/support/op_families.hpp on hnn::CPU
// (tests/cuda/op_families_cuda_test.cpp runs the same bodies on hnn::CUDA): elementwise arithmetic, copies,
// reductions and batch norm, each against a double reference computed by plain loops.
#include "op_families.hpp"

TEMPLATE_TEST_CASE("op families on the CPU", "[ops][families]", float, double) {
  hnn::test::families::all_families<TestType, hnn::CPU>();
}
