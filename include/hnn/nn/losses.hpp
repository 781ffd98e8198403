// hnn::nn losses: the loss modules and their functional forms (hnn/nn.hpp includes this when present).
// Depends on nn/loss.hpp and nn/functional/loss.hpp.
#pragma once

#include "hnn/nn/functional/loss.hpp"
#include "hnn/nn/loss.hpp"
