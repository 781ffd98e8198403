// One test body per op family, written once and run on every device present (as ggml's test-backend-ops
// runs one case list on every backend): tests/ops/op_families_test.cpp runs all_families<T, CPU>,
// tests/cuda/op_families_cuda_test.cpp all_families<T, CUDA> when a GPU exists. Each body builds its inputs
// on the host, moves them to the device D, runs the op (and its backward) there, and compares what comes back
// with a reference computed here in double from the same host values: element loops, not hnn's ops, so
// the reference does not share a kernel with what it checks.
//   elementwise_family<T, D>  + - * / between tensors (same shape, broadcast, strided, 0-d, empty) and
//                             with scalars on either side, neg, and the gradients of a composite
//   copy_family<T, D>         contiguous/clone of strided views, copy_ with broadcasting into strided
//                             destinations, fill_, cast, to_vector, item
//   reduce_family<T, D>       sum over leading, trailing, middle and all dims (keepdim or not), mean, and
//                             their gradients
//   batch_norm_family<T, D>   F::batch_norm in training and eval on (N, C) and (N, C, H, W): output,
//                             running statistics, gradients of input, weight and bias
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <functional>
#include <hnn/autograd/backward.hpp>
#include <hnn/nn/functional/batch_norm.hpp>
#include <hnn/tensor.hpp>
#include <string>
#include <vector>

#include "reference.hpp"

namespace hnn::test::families {

/// Tolerance of a device result against the double reference.
template <class T>
constexpr double tolerance() {
  return std::is_same_v<T, double> ? 1e-12 : 1e-5;
}

/// Host values of `shape` from a fixed seed: normal values, or magnitudes in [0.5, 2) with random signs
/// when `away_from_zero` (divisors).
template <class T>
Tensor<T, CPU> host_values(const Shape& shape, uint64_t seed, bool away_from_zero = false) {
  Generator gen(seed);
  auto t = randn<T>(shape, gen);
  if (!away_from_zero) return t;
  auto u = rand<T>(shape, gen);
  T* p = t.data();
  const T* q = u.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = (p[i] < 0 ? T(-1) : T(1)) * (T(0.5) + T(1.5) * q[i]);
  return t;
}

/// Values of `t` (any strides) broadcast to `shape`, in row-major order of `shape`, as doubles.
template <class T>
std::vector<double> broadcast_values(const Tensor<T, CPU>& t, const Shape& shape) {
  const auto values = t.contiguous().to_vector();
  const size_t offset = shape.size() - t.shape().size();
  std::vector<double> out(static_cast<size_t>(shape.numel()));
  std::vector<int64_t> index(shape.size(), 0);
  for (size_t k = 0; k < out.size(); ++k) {
    int64_t flat = 0;
    for (size_t d = 0; d < t.shape().size(); ++d) {
      const int64_t size = t.shape()[d];
      flat = flat * size + (size == 1 ? 0 : index[d + offset]);
    }
    out[k] = static_cast<double>(values[static_cast<size_t>(flat)]);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

inline Tensor<double, CPU> as_tensor(const std::vector<double>& values, const Shape& shape) {
  return tensor<double>(values, shape);
}

template <class T, class D>
void expect_matches(const Tensor<T, D>& actual, const std::vector<double>& expected, const Shape& shape,
                    const std::string& what) {
  REQUIRE(actual.defined());
  expect_close(actual.template to<CPU>(), as_tensor(expected, shape), tolerance<T>(), -1.0, what);
}

/// A copy of the host tensor `t` on device D: a tensor of its own on every device (to<CPU>() of a CPU
/// tensor is that tensor, and two leaves built from one host tensor must not share a gradient).
template <class D, class T>
Tensor<T, D> on(const Tensor<T, CPU>& t) {
  return t.clone().template to<D>();
}

// ---- elementwise ---------------------------------------------------------------------------------------

template <class T, class D>
void elementwise_family() {
  struct Case {
    const char* name;
    Shape a, b;
    bool transpose_a;  // a is given as the transposed view of a contiguous tensor
  };
  const std::vector<Case> cases = {
      {"same shape", {3, 5}, {3, 5}, false},
      {"row broadcast", {4, 6}, {6}, false},
      {"column broadcast", {2, 3, 4}, {3, 1}, false},
      {"both broadcast", {3, 1, 5}, {4, 1}, false},
      {"strided a", {5, 3}, {5, 3}, true},
      {"0-d", {}, {}, false},
      {"empty", {0, 3}, {3}, false},
      {"long", {70000}, {70000}, false},
  };
  using Fn = std::function<double(double, double)>;
  const std::vector<std::pair<const char*, Fn>> ops = {{"+", [](double x, double y) { return x + y; }},
                                                       {"-", [](double x, double y) { return x - y; }},
                                                       {"*", [](double x, double y) { return x * y; }},
                                                       {"/", [](double x, double y) { return x / y; }}};
  uint64_t seed = 1;
  for (const auto& c : cases) {
    auto a_host = host_values<T>(c.transpose_a ? Shape{c.a[1], c.a[0]} : c.a, seed++);
    if (c.transpose_a) a_host = a_host.t();
    const auto b_host = host_values<T>(c.b, seed++, /*away_from_zero=*/true);
    const Shape out = broadcast_shapes(c.a, c.b);
    const auto av = broadcast_values(a_host, out), bv = broadcast_values(b_host, out);
    const auto a = on<D>(a_host), b = on<D>(b_host);
    for (const auto& [symbol, f] : ops) {
      INFO(c.name << ": a " << symbol << " b");
      std::vector<double> expected(av.size());
      for (size_t i = 0; i < av.size(); ++i) expected[i] = f(av[i], bv[i]);
      const Tensor<T, D> result = symbol[0] == '+'   ? a + b
                                  : symbol[0] == '-' ? a - b
                                  : symbol[0] == '*' ? a * b
                                                     : a / b;
      expect_matches(result, expected, out, std::string(c.name) + " " + symbol);
    }
    // Scalars on either side and negation, over a.
    const auto a_values = broadcast_values(a_host, a_host.shape());
    const T s = T(1.75);
    const std::vector<std::pair<const char*, std::function<Tensor<T, D>(const Tensor<T, D>&)>>> scalar_ops = {
        {"a + s", [s](const Tensor<T, D>& x) { return x + s; }},
        {"a * s", [s](const Tensor<T, D>& x) { return x * s; }},
        {"a / s", [s](const Tensor<T, D>& x) { return x / s; }},
        {"s - a", [s](const Tensor<T, D>& x) { return s - x; }},
        {"s / b", [s](const Tensor<T, D>& x) { return s / x; }},
        {"-a", [](const Tensor<T, D>& x) { return -x; }}};
    const std::vector<std::function<double(double)>> scalar_refs = {
        [&](double x) { return x + s; }, [&](double x) { return x * s; }, [&](double x) { return x / s; },
        [&](double x) { return s - x; }, [&](double x) { return s / x; }, [](double x) { return -x; }};
    for (size_t k = 0; k < scalar_ops.size(); ++k) {
      INFO(c.name << ": " << scalar_ops[k].first);
      const bool on_b = k == 4;  // s / b: b stays away from zero
      const auto& input_host = on_b ? b_host : a_host;
      const auto values = on_b ? broadcast_values(b_host, b_host.shape()) : a_values;
      std::vector<double> expected(values.size());
      for (size_t i = 0; i < values.size(); ++i) expected[i] = scalar_refs[k](values[i]);
      expect_matches(scalar_ops[k].second(on_b ? b : a), expected, input_host.shape(),
                     std::string(c.name) + " " + scalar_ops[k].first);
    }
  }

  // Gradients of L = sum(a * b + a / b - 2 / b + (a - b) * 3), a of (4, 5), b of (5) broadcast:
  //   dL/da = b + 1 / b + 3,   dL/db = sum over rows of (a - a / b^2 + 2 / b^2 - 3).
  auto a_host = host_values<T>({4, 5}, 101), b_host = host_values<T>({5}, 102, true);
  auto a = on<D>(a_host).requires_grad_(), b = on<D>(b_host).requires_grad_();
  auto loss = (a * b + a / b - T(2) / b + (a - b) * T(3)).sum();
  loss.backward();
  const auto av = broadcast_values(a_host, {4, 5}), bv = broadcast_values(b_host, {4, 5});
  std::vector<double> grad_a(av.size()), grad_b(5, 0.0);
  for (size_t i = 0; i < av.size(); ++i) {
    grad_a[i] = bv[i] + 1 / bv[i] + 3;
    grad_b[i % 5] += av[i] - av[i] / (bv[i] * bv[i]) + 2 / (bv[i] * bv[i]) - 3;
  }
  expect_matches(a.grad(), grad_a, {4, 5}, "dL/da");
  expect_matches(b.grad(), grad_b, {5}, "dL/db");

  // A second backward accumulates into the same gradients: twice the first.
  (a * b + a / b - T(2) / b + (a - b) * T(3)).sum().backward();
  for (double& g : grad_a) g *= 2;
  for (double& g : grad_b) g *= 2;
  expect_matches(a.grad(), grad_a, {4, 5}, "dL/da after two backward calls");
  expect_matches(b.grad(), grad_b, {5}, "dL/db after two backward calls");
}

// ---- copies ----------------------------------------------------------------------------------------------

template <class T, class D>
void copy_family() {
  const auto base_host = host_values<T>({3, 4, 5}, 201);
  const auto base = on<D>(base_host);
  const auto values = broadcast_values(base_host, base_host.shape());
  auto at = [&](int64_t i, int64_t j, int64_t k) { return values[static_cast<size_t>((i * 4 + j) * 5 + k)]; };

  // contiguous() and clone() of a permuted view: out[k][i][j] = base[i][j][k].
  const auto permuted = base.permute({2, 0, 1});
  REQUIRE_FALSE(permuted.is_contiguous());
  std::vector<double> expected;
  for (int64_t k = 0; k < 5; ++k)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 4; ++j) expected.push_back(at(i, j, k));
  expect_matches(permuted.contiguous(), expected, {5, 3, 4}, "contiguous() of a permuted view");
  expect_matches(permuted.clone(), expected, {5, 3, 4}, "clone() of a permuted view");
  CHECK(permuted.contiguous().is_contiguous());

  // copy_ of a broadcast row into a strided (transposed) destination: dst^T[j][i] = row[i].
  auto dst = on<D>(zeros<T>({4, 3}));
  auto dst_t = dst.t();  // (3, 4) view, not contiguous
  const auto row_host = host_values<T>({3, 1}, 202);
  dst_t.copy_(on<D>(row_host));
  const auto row = broadcast_values(row_host, {3, 1});
  expected.clear();
  for (int64_t j = 0; j < 4; ++j)
    for (int64_t i = 0; i < 3; ++i) expected.push_back(row[static_cast<size_t>(i)]);
  expect_matches(dst, expected, {4, 3}, "copy_ broadcast into a transposed view");

  // fill_ of a strided slice leaves the rest alone.
  auto filled = on<D>(zeros<T>({4, 6}));
  auto column = filled.narrow(1, 2, 1);  // (4, 1) column 2
  column.fill_(T(7));
  expected.assign(24, 0.0);
  for (int64_t i = 0; i < 4; ++i) expected[static_cast<size_t>(i * 6 + 2)] = 7.0;
  expect_matches(filled, expected, {4, 6}, "fill_ of a column");
  auto whole = on<D>(zeros<T>({70000}));
  whole.fill_(T(-2.5));
  expect_matches(whole, std::vector<double>(70000, -2.5), {70000}, "fill_ of a long tensor");

  // A rank-10 tensor with every dimension reversed: ten dimensions that no merging can join.
  const Shape ten(std::vector<int64_t>(10, 2));
  const auto cube_host = host_values<T>(ten, 203);
  const auto cube_values = broadcast_values(cube_host, ten);
  expected.assign(1024, 0.0);
  for (size_t k = 0; k < 1024; ++k) {
    size_t reversed = 0;  // out[i0, ..., i9] = in[i9, ..., i0]: the bits of k in reverse order
    for (int bit = 0; bit < 10; ++bit) reversed |= ((k >> bit) & 1U) << (9 - bit);
    expected[k] = cube_values[reversed];
  }
  expect_matches(on<D>(cube_host).permute({9, 8, 7, 6, 5, 4, 3, 2, 1, 0}).contiguous(), expected, ten,
                 "contiguous() of a rank-10 reversed view");

  // cast and the host read-backs.
  const auto as_double = permuted.template cast<double>();
  expected.clear();
  for (int64_t k = 0; k < 5; ++k)
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 4; ++j) expected.push_back(at(i, j, k));
  expect_matches(as_double, expected, {5, 3, 4}, "cast<double>() of a permuted view");
  const auto as_int = (base * T(10)).template cast<int64_t>().to_vector();
  for (size_t i = 0; i < as_int.size(); ++i)
    CHECK(as_int[i] == static_cast<int64_t>(static_cast<T>(values[i] * 10)));
  CHECK(static_cast<double>(base.select(0, 2).select(0, 1).select(0, 3).item()) == at(2, 1, 3));
  CHECK(base.to_vector().size() == 60);
}

// ---- reductions ------------------------------------------------------------------------------------------

template <class T, class D>
void reduce_family() {
  const Shape shape{3, 4, 5};
  const auto x_host = host_values<T>(shape, 301);
  const auto v = broadcast_values(x_host, shape);
  auto at = [&](int64_t i, int64_t j, int64_t k) { return v[static_cast<size_t>((i * 4 + j) * 5 + k)]; };
  struct Case {
    const char* name;
    Shape dims;
    bool keepdim;
  };
  const std::vector<Case> cases = {{"leading dim", {0}, false},   {"leading dims", {0, 1}, true},
                                   {"trailing dim", {2}, false},  {"middle dim", {1}, true},
                                   {"outer dims", {0, 2}, false}, {"every dim", {}, false}};
  const auto x = on<D>(x_host);
  for (const auto& c : cases) {
    INFO("sum over " << c.name);
    bool reduced[3] = {false, false, false};
    if (c.dims.empty()) reduced[0] = reduced[1] = reduced[2] = true;
    for (int64_t d : c.dims) reduced[d] = true;
    std::vector<int64_t> kept_shape, out_shape;
    for (int d = 0; d < 3; ++d) {
      if (!reduced[d]) kept_shape.push_back(shape[static_cast<size_t>(d)]);
      out_shape.push_back(reduced[d] ? 1 : shape[static_cast<size_t>(d)]);
    }
    std::vector<double> sums(static_cast<size_t>(Shape(kept_shape).numel()), 0.0);
    double count = 1;
    for (int d = 0; d < 3; ++d)
      if (reduced[d]) count *= static_cast<double>(shape[static_cast<size_t>(d)]);
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 4; ++j)
        for (int64_t k = 0; k < 5; ++k) {
          int64_t flat = 0;
          const int64_t index[3] = {i, j, k};
          for (int d = 0; d < 3; ++d)
            if (!reduced[d]) flat = flat * shape[static_cast<size_t>(d)] + index[d];
          sums[static_cast<size_t>(flat)] += at(i, j, k);
        }
    const Shape result_shape = c.keepdim ? Shape(out_shape) : Shape(kept_shape);
    const auto s = c.dims.empty() ? x.sum() : x.sum(c.dims, c.keepdim);
    expect_matches(s, sums, result_shape, std::string("sum over ") + c.name);
    std::vector<double> means = sums;
    for (double& m : means) m /= count;
    const auto m = c.dims.empty() ? x.mean() : x.mean(c.dims, c.keepdim);
    expect_matches(m, means, result_shape, std::string("mean over ") + c.name);
  }
  // Long rows (a device splits each over many blocks) and long columns.
  const auto long_host = host_values<T>({3, 200000}, 303);
  const auto long_values = broadcast_values(long_host, long_host.shape());
  std::vector<double> row_sums(3, 0.0), column_sums(200000, 0.0);
  for (size_t i = 0; i < long_values.size(); ++i) {
    row_sums[i / 200000] += long_values[i];
    column_sums[i % 200000] += long_values[i];
  }
  const auto long_tensor = on<D>(long_host);
  expect_matches(long_tensor.sum({1}), row_sums, {3}, "sums of rows of 200000");
  expect_matches(long_tensor.sum({0}), column_sums, {200000}, "sums of 200000 columns");

  // Gradients: d/dx of sum(x.sum({0}) * w) = w broadcast; of mean over dims {1, 2} = 1 / 20.
  const auto w_host = host_values<T>({4, 5}, 302);
  auto xg = on<D>(x_host).requires_grad_();
  (xg.sum({0}) * on<D>(w_host)).sum().backward();
  const auto w = broadcast_values(w_host, shape);
  expect_matches(xg.grad(), w, shape, "gradient of a weighted sum over dim 0");
  auto xm = on<D>(x_host).requires_grad_();
  xm.mean({1, 2}).sum().backward();
  expect_matches(xm.grad(), std::vector<double>(60, 1.0 / 20), shape, "gradient of mean over dims 1, 2");
}

// ---- batch norm ------------------------------------------------------------------------------------------

/// F::batch_norm on device D against the textbook formulas in double: y = (x - mean) / sqrt(var + eps) *
/// weight + bias with the biased batch variance (training) or the running statistics (eval); the running
/// update with the unbiased variance; dx, dweight, dbias of sum(y * g).
template <class T, class D>
void batch_norm_family() {
  const double eps = 1e-5, momentum = 0.1;
  for (const Shape& shape : {Shape{16, 3}, Shape{4, 3, 5, 6}}) {
    for (bool training : {true, false}) {
      INFO("shape " << shape << (training ? ", training" : ", eval"));
      const int64_t N = shape[0], C = shape[1], S = shape.numel() / (N * C);
      const auto x_host = host_values<T>(shape, 401), g_host = host_values<T>(shape, 402);
      const auto w_host = host_values<T>({C}, 403, true), b_host = host_values<T>({C}, 404);
      auto rm_host = host_values<T>({C}, 405), rv_host = host_values<T>({C}, 406, true).abs();
      const auto xv = broadcast_values(x_host, shape), gv = broadcast_values(g_host, shape);
      const auto wv = broadcast_values(w_host, {C}), bv = broadcast_values(b_host, {C});
      const auto rmv = broadcast_values(rm_host, {C}), rvv = broadcast_values(rv_host, {C});
      auto value = [&](const std::vector<double>& t, int64_t n, int64_t c, int64_t s) {
        return t[static_cast<size_t>((n * C + c) * S + s)];
      };

      auto x = on<D>(x_host).requires_grad_(), w = on<D>(w_host).requires_grad_(),
           b = on<D>(b_host).requires_grad_();
      auto running_mean = on<D>(rm_host), running_var = on<D>(rv_host);
      auto y = nn::functional::batch_norm(x, running_mean, running_var, w, b, training, momentum, eps);
      (y * on<D>(g_host)).sum().backward();

      std::vector<double> y_ref(xv.size()), dx_ref(xv.size()), dw_ref(static_cast<size_t>(C)),
          db_ref(static_cast<size_t>(C)), rm_ref(rmv), rv_ref(rvv);
      const double count = static_cast<double>(N * S);
      for (int64_t c = 0; c < C; ++c) {
        double mean = 0, var = 0;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t s = 0; s < S; ++s) mean += value(xv, n, c, s);
        mean /= count;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t s = 0; s < S; ++s) var += std::pow(value(xv, n, c, s) - mean, 2);
        var /= count;
        const size_t ci = static_cast<size_t>(c);
        const double use_mean = training ? mean : rmv[ci], use_var = training ? var : rvv[ci];
        const double invstd = 1 / std::sqrt(use_var + eps);
        double sum_g = 0, sum_g_xhat = 0;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t s = 0; s < S; ++s) {
            const size_t i = static_cast<size_t>((n * C + c) * S + s);
            const double xhat = (xv[i] - use_mean) * invstd;
            y_ref[i] = xhat * wv[ci] + bv[ci];
            sum_g += gv[i];
            sum_g_xhat += gv[i] * xhat;
          }
        dw_ref[ci] = sum_g_xhat;
        db_ref[ci] = sum_g;
        for (int64_t n = 0; n < N; ++n)
          for (int64_t s = 0; s < S; ++s) {
            const size_t i = static_cast<size_t>((n * C + c) * S + s);
            const double xhat = (xv[i] - use_mean) * invstd;
            dx_ref[i] = training ? wv[ci] * invstd * (gv[i] - sum_g / count - xhat * sum_g_xhat / count)
                                 : wv[ci] * invstd * gv[i];
          }
        if (training) {
          rm_ref[ci] = (1 - momentum) * rmv[ci] + momentum * mean;
          rv_ref[ci] = (1 - momentum) * rvv[ci] + momentum * var * count / (count - 1);
        }
      }
      expect_matches(y, y_ref, shape, "output");
      expect_matches(x.grad(), dx_ref, shape, "grad input");
      expect_matches(w.grad(), dw_ref, {C}, "grad weight");
      expect_matches(b.grad(), db_ref, {C}, "grad bias");
      expect_matches(running_mean, rm_ref, {C}, "running_mean");
      expect_matches(running_var, rv_ref, {C}, "running_var");
    }
  }
}

// ---- all of them ------------------------------------------------------------------------------------------

/// Every family on device D, one Catch2 section each (a failure names its family).
template <class T, class D>
void all_families() {
  SECTION("elementwise") { elementwise_family<T, D>(); }
  SECTION("copy") { copy_family<T, D>(); }
  SECTION("reduce") { reduce_family<T, D>(); }
  SECTION("batch norm") { batch_norm_family<T, D>(); }
}

}  // namespace hnn::test::families
