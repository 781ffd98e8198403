// hnn: a header-only C++20 tensor and neural-network library with autograd. This umbrella header brings
// in everything CPU-side, in dependency order: tensor, nn, optim, data, io, utils.
#pragma once

#include "hnn/nn.hpp"
#include "hnn/tensor.hpp"
#if __has_include("hnn/optim.hpp")
#include "hnn/optim.hpp"
#endif
#if __has_include("hnn/data.hpp")
#include "hnn/data.hpp"
#endif
#if __has_include("hnn/io.hpp")
#include "hnn/io.hpp"
#endif
#if __has_include("hnn/utils.hpp")
#include "hnn/utils.hpp"
#endif
#ifdef HNN_WITH_CUDA
#include "hnn/cuda.hpp"  // Tensor<T, hnn::CUDA>: device storage, copies, arithmetic, batch norm
#endif
