// The tensor layer: Tensor<T, Device>, creation functions, every op with its backward, the autograd
// engine and printing. Self-contained: include it alone for tensors without nn.
#pragma once

#include "hnn/autograd/backward.hpp"
#include "hnn/autograd/engine.hpp"
#include "hnn/autograd/function.hpp"
#include "hnn/autograd/gradcheck.hpp"
#include "hnn/core/config.hpp"
#include "hnn/core/random.hpp"
#include "hnn/ops/copy.hpp"
#include "hnn/ops/creation.hpp"
#include "hnn/ops/elementwise.hpp"
#include "hnn/ops/matmul.hpp"
#include "hnn/ops/reduction.hpp"
#include "hnn/ops/shape.hpp"
#include "hnn/ops/softmax.hpp"
#include "hnn/tensor/print.hpp"
#include "hnn/tensor/tensor.hpp"
