// Graphs are freed after backward: a 10 000-step training-style loop keeps memory flat (resident set size
// from /proc/self/statm, and the allocator's cache, measured after a warm-up), every step's graph nodes
// die with their output (weak_ptr checks), and saved tensors are released by backward().
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <memory>

#include "hnn/tensor.hpp"

// AddressSanitizer quarantines freed memory (256 MB by default), so under it RSS grows with any
// allocation churn; the RSS bound only holds in a plain build. The graph-lifetime checks hold in both.
#if defined(__SANITIZE_ADDRESS__)
#define HNN_TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HNN_TEST_UNDER_ASAN 1
#endif
#endif
#ifndef HNN_TEST_UNDER_ASAN
#define HNN_TEST_UNDER_ASAN 0
#endif

namespace {

/// Resident set size in bytes (second field of /proc/self/statm, in pages).
long resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace

TEST_CASE("a 10 000-step loop of forward, backward and update keeps memory flat", "[autograd][memory]") {
  hnn::Generator gen(11);
  auto x = hnn::randn<float>({64, 32}, gen);
  auto target = hnn::randn<float>({64, 8}, gen);
  auto w = (hnn::randn<float>({32, 8}, gen) * 0.1f).requires_grad_();
  auto b = hnn::zeros<float>({8}).requires_grad_();
  std::weak_ptr<hnn::autograd::Node> last_graph;
  auto step = [&] {
    auto h = (x.matmul(w) + b).tanh();
    auto loss = (h - target).pow(2.0).mean();
    last_graph = loss.grad_fn();
    loss.backward();
    hnn::NoGradGuard no_grad;
    w.detach().copy_(w.detach() - w.grad() * 0.01f);
    b.detach().copy_(b.detach() - b.grad() * 0.01f);
    w.zero_grad();
    b.zero_grad();
    return loss.item();
  };
  const float first = step();
  for (int i = 0; i < 200; ++i) step();  // warm-up: the allocator cache and the heap reach steady state
  const long rss_before = resident_bytes();
  const size_t cached_before = hnn::CpuCachingAllocator::instance().cached_bytes();
  float last = 0;
  for (int i = 0; i < 10000; ++i) {
    last = step();
    REQUIRE(last_graph.expired());  // the graph died with the loss
  }
  const long rss_after = resident_bytes();
  const size_t cached_after = hnn::CpuCachingAllocator::instance().cached_bytes();
  INFO("RSS before " << rss_before << " after " << rss_after << " bytes");
  if (!HNN_TEST_UNDER_ASAN)
    REQUIRE(rss_after - rss_before < 2L * 1024 * 1024);  // 200 bytes a step would show
  REQUIRE(cached_after <= cached_before + 64 * 1024);
  REQUIRE(last < first);  // and it trained
}

TEST_CASE("backward releases the graph's saved tensors; the leaf's accumulator dies with the graph",
          "[autograd][memory]") {
  auto x = hnn::ones<double>({1000}).requires_grad_();
  std::weak_ptr<hnn::Storage<double, hnn::CPU>> saved;
  std::weak_ptr<hnn::autograd::Node> node;
  {
    auto e = x.exp();  // ExpBackward saves its output
    saved = e.storage();
    auto y = e * 2.0;  // MulBackward saves nothing of e's storage beyond e itself
    node = y.grad_fn();
    auto loss = y.sum();
    e = hnn::Tensor<double>();
    y = hnn::Tensor<double>();
    loss.backward();
    REQUIRE(saved.expired());  // backward freed what ops saved, although `loss` is still alive
  }
  REQUIRE(node.expired());
  REQUIRE(x.grad().defined());
  REQUIRE(x.unsafe_impl()->grad_accumulator.expired());
}
