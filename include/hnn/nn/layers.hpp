// The layers of the training stack in one include: Linear, Conv2d, AvgPool2d, MaxPool2d, Dropout, the
// activations, Flatten, nn::init and their functional forms. Depends on the headers it lists.
#pragma once

#include "hnn/nn/activation.hpp"
#include "hnn/nn/conv.hpp"
#include "hnn/nn/dropout.hpp"
#include "hnn/nn/flatten.hpp"
#include "hnn/nn/functional/layers.hpp"
#include "hnn/nn/init.hpp"
#include "hnn/nn/linear.hpp"
#include "hnn/nn/pooling.hpp"
