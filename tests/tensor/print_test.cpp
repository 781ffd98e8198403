// Tests of include/hnn/tensor/print.hpp: std::ostream << tensor prints exactly what str(tensor) prints in
// PyTorch (fixture strings in tests/references/ops.json, cases "print/..."), for float, double and int64;
// 0-dim, empty, 1-4 dims; integer-valued, fixed and scientific formats; nan/inf; line wrapping; "..."
// summaries; requires_grad and grad_fn suffixes; transposed, narrowed and expanded views.
#include <catch2/catch.hpp>
#include <sstream>
#include <string>

#include "../ops/op_harness.hpp"  // fixture helpers shared with the op tests

namespace {

using hnn::Tensor;

template <class T>
std::string printed(const hnn::test::ReferenceCase& c) {
  const auto& params = hnn::test::case_params(c);
  Tensor<T> x = c.tensor<T>("x");
  if constexpr (std::is_floating_point_v<T>)
    if (params.at("requires_grad").get<bool>()) x.requires_grad_(true);
  x = hnn::test::apply_view(x, params.at("views"));
  std::ostringstream os;
  os << x;
  return os.str();
}

}  // namespace

TEST_CASE("tensors print exactly as PyTorch's str()", "[tensor][print]") {
  const auto& refs = hnn::test::ops_references();
  const auto names = refs.names("print/");
  REQUIRE(names.size() >= 40);
  for (const auto& name : names) {
    DYNAMIC_SECTION(name) {
      const auto c = refs.get(name);
      const std::string dtype = c.json().at("tensors").at("x").at("dtype").get<std::string>();
      const std::string expected = hnn::test::case_params(c).at("str").get<std::string>();
      INFO(c.call());
      if (dtype == "float32")
        REQUIRE(printed<float>(c) == expected);
      else if (dtype == "float64")
        REQUIRE(printed<double>(c) == expected);
      else
        REQUIRE(printed<int64_t>(c) == expected);
    }
  }
}

TEST_CASE("a non-leaf prints its grad_fn; an undefined tensor prints a marker", "[tensor][print]") {
  auto x = hnn::tensor<float>({1.5f, -2.0f}, {2}).requires_grad_();
  std::ostringstream os;
  os << x * hnn::full<float>({2}, 2.0f);
  // str(torch.tensor([1.5, -2.0], requires_grad=True) * torch.full((2,), 2.0))
  REQUIRE(os.str() == "tensor([ 3., -4.], grad_fn=<MulBackward0>)");
  std::ostringstream scalar;
  scalar << x * 2.0f;  // a scalar operand is libtorch's mul(Scalar), MulBackward1, as in C++ libtorch
  REQUIRE(scalar.str() == "tensor([ 3., -4.], grad_fn=<MulBackward1>)");
  std::ostringstream undefined;
  undefined << Tensor<float>();
  REQUIRE(undefined.str().find("undefined") != std::string::npos);
}
