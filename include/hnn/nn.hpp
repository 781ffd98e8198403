// hnn::nn: modules, layers, batch norm, losses, initialisation and the functional forms.
#pragma once

#include "hnn/nn/module.hpp"
#include "hnn/nn/sequential.hpp"
#if __has_include("hnn/nn/batchnorm.hpp")
#include "hnn/nn/batchnorm.hpp"
#endif
#if __has_include("hnn/nn/layers.hpp")
#include "hnn/nn/layers.hpp"
#endif
#if __has_include("hnn/nn/losses.hpp")
#include "hnn/nn/losses.hpp"
#endif
