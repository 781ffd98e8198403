// hnn I/O: safetensors files (io/safetensors.hpp), PyTorch's torch.save files of state dicts
// (io/torch_format.hpp), and module / training checkpoints built on them (io/checkpoint.hpp: hnn::save,
// hnn::load, hnn::save_checkpoint, hnn::load_checkpoint).
#pragma once

#include "hnn/io/checkpoint.hpp"
#include "hnn/io/safetensors.hpp"
#include "hnn/io/torch_format.hpp"
