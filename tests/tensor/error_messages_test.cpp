// The error contract of issue 2: bad input throws std::invalid_argument (std::runtime_error for autograd
// misuse) with a message that names the function and the shapes involved - broadcasting mismatches in
// every binary op, reshape/view to a wrong size, matmul's inner dimensions, item() on many elements,
// backward on a tensor that does not require grad, a gradient of the wrong shape.
#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

#include "hnn/tensor.hpp"

using Catch::Matchers::Contains;
using hnn::Tensor;

namespace {

/// The message of the std::invalid_argument that fn throws (fails the test if it throws nothing else).
template <class Fn>
std::string invalid_argument_message(Fn fn) {
  try {
    fn();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  FAIL("expected std::invalid_argument");
  return "";
}

}  // namespace

TEST_CASE("binary ops with shapes that do not broadcast name both shapes", "[errors]") {
  auto a = hnn::zeros<float>({2, 3});
  auto b = hnn::zeros<float>({4, 2});
  for (const auto& msg :
       {invalid_argument_message([&] { (void)(a + b); }), invalid_argument_message([&] { (void)(a - b); }),
        invalid_argument_message([&] { (void)(a * b); }), invalid_argument_message([&] { (void)(a / b); }),
        invalid_argument_message([&] { (void)hnn::maximum(a, b); }),
        invalid_argument_message([&] { (void)a.eq(b); })}) {
    CHECK_THAT(msg, Contains("[2, 3]") && Contains("[4, 2]"));
    CHECK_THAT(msg, Contains("must match the size of tensor b"));
  }
  // Also when the mismatch is hidden behind views.
  auto t = hnn::zeros<double>({3, 5}).t();  // (5, 3)
  CHECK_THAT(invalid_argument_message([&] { (void)(t + hnn::zeros<double>({5})); }),
             Contains("[5, 3]") && Contains("[5]"));
}

TEST_CASE("reshape and view to a wrong size name the requested shape and the size", "[errors]") {
  auto x = hnn::zeros<float>({2, 3});
  CHECK_THAT(invalid_argument_message([&] {
               (void)x.reshape({4, 2});
             }),
             Contains("shape '[4, 2]' is invalid for input of size 6"));
  CHECK_THAT(invalid_argument_message([&] { (void)x.view({5, -1}); }), Contains("[5, -1]") && Contains("6"));
  CHECK_THAT(invalid_argument_message([&] { (void)x.t().view({6}); }),
             Contains("view size is not compatible") && Contains("[3, 2]") && Contains("reshape"));
}

TEST_CASE("matmul with mismatched inner dimensions names both operands", "[errors]") {
  auto a = hnn::zeros<float>({2, 3});
  CHECK_THAT(invalid_argument_message([&] {
               (void)hnn::matmul(a, hnn::zeros<float>({2, 3}));
             }),
             Contains("mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)"));
  CHECK_THAT(invalid_argument_message([&] {
               (void)a.matmul(hnn::zeros<float>({4, 2, 5}));
             }),
             Contains("[2, 3]") && Contains("[4, 2, 5]"));
}

TEST_CASE("item() on a tensor with many elements names the count and the shape", "[errors]") {
  CHECK_THAT(invalid_argument_message([] {
               (void)hnn::zeros<float>({2, 3}).item();
             }),
             Contains("6 elements") && Contains("[2, 3]") && Contains("item()"));
  CHECK_THAT(invalid_argument_message([] { (void)hnn::zeros<int64_t>({0}).item(); }),
             Contains("0 elements") && Contains("[0]"));
}

TEST_CASE("autograd misuse names the tensor's shape", "[errors]") {
  auto x = hnn::zeros<double>({2, 3});
  try {
    (x * 2.0).backward(hnn::ones<double>({2, 3}));
    FAIL("expected std::runtime_error");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(std::string(e.what()), Contains("does not require grad") && Contains("[2, 3]"));
  }
  x.requires_grad_();
  try {
    (x * 2.0).backward();
    FAIL("expected std::runtime_error");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(std::string(e.what()), Contains("scalar outputs") && Contains("[2, 3]"));
  }
  CHECK_THAT(invalid_argument_message([&] { (x * 2.0).backward(hnn::ones<double>({3})); }),
             Contains("[3]") && Contains("[2, 3]"));
}
