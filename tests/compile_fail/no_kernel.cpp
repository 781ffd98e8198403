// Programs that must not compile (tests/CMakeLists.txt builds each case with -fsyntax-only and expects the
// compiler's message to name what is missing): an op used on a device that has no kernel for it. The
// device is a stand-in with host storage, so the check needs no GPU and no CUDA toolkit.
#include <hnn/tensor.hpp>

struct StandInDevice {
  static constexpr const char* name = "stand-in";
};

template <class T>
class hnn::Storage<T, StandInDevice> : public hnn::Storage<T, hnn::CPU> {
 public:
  using hnn::Storage<T, hnn::CPU>::Storage;
};

int main() {
  auto x = hnn::Tensor<float, StandInDevice>::empty({3});
#if HNN_COMPILE_FAIL_CASE == 1
  // A CPU-only op: the error names the op and the device.
  auto y = x.exp();
#elif HNN_COMPILE_FAIL_CASE == 2
  // A family the device lacks: the error names the family.
  auto y = x + x;
#endif
  return 0;
}
