// hnn::data: datasets (TensorDataset, MNIST, CIFAR10, CSVDataset, Subset, MapDataset), the DataLoader
// (optional prefetch thread), random_split / KFold / StratifiedKFold, transforms and DistributedSampler.
// Depends on hnn/tensor.hpp (and zlib for .gz files when HNN_WITH_ZLIB is defined).
#pragma once

#include "hnn/data/binary_file.hpp"
#include "hnn/data/cifar10.hpp"
#include "hnn/data/csv.hpp"
#include "hnn/data/dataloader.hpp"
#include "hnn/data/dataset.hpp"
#include "hnn/data/idx.hpp"
#include "hnn/data/mnist.hpp"
#include "hnn/data/preprocessing.hpp"
#include "hnn/data/sampler.hpp"
#include "hnn/data/split.hpp"
#include "hnn/data/tensor_dataset.hpp"
#include "hnn/data/transforms.hpp"
