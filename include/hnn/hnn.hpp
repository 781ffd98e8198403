// hnn: a header-only C++20 tensor and neural-network library with autograd. This umbrella header brings
// in everything CPU-side, in dependency order: tensor, nn, optim, data, io, utils.
#pragma once

#include "hnn/tensor.hpp"
