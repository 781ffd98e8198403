// hnn::nn: modules, layers, batch norm, losses, initialisation, the functional forms and the inference
// utilities (batch-norm folding).
#pragma once

#include "hnn/nn/batch_norm.hpp"
#include "hnn/nn/batch_norm_variants.hpp"
#include "hnn/nn/layers.hpp"
#include "hnn/nn/loss.hpp"
#include "hnn/nn/module.hpp"
#include "hnn/nn/sequential.hpp"
#include "hnn/nn/utils/fusion.hpp"
#include "hnn/nn/utils/precise_bn.hpp"
