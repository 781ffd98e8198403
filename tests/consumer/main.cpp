// An outside program: proves <hnn/hnn.hpp> builds from elsewhere through hnn::hnn.
#include <hnn/hnn.hpp>
#include <iostream>

int main() {
  auto z = hnn::zeros<float>({2, 3});
  std::cout << "numel=" << z.numel() << '\n';
  return z.numel() == 6 ? 0 : 1;
}
