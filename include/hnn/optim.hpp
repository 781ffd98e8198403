// hnn::optim: optimisers (SGD, Adam, AdamW), learning-rate schedulers (StepLR, ReduceLROnPlateau) and
// EarlyStopping. Depends on optim/*.hpp.
#pragma once

#include "hnn/optim/adam.hpp"
#include "hnn/optim/early_stopping.hpp"
#include "hnn/optim/lr_scheduler.hpp"
#include "hnn/optim/optimizer.hpp"
#include "hnn/optim/sgd.hpp"
