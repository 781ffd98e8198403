// The name API.md gives the batch-norm modules' header (PyTorch's torch/nn/modules/batchnorm.py):
// hnn spells it nn/batch_norm.hpp; this file keeps user code that includes the other spelling building.
#pragma once

#include "hnn/nn/batch_norm.hpp"
