// <hnn/distributed.hpp>: data-parallel training over MPI — the process group (init_process_group,
// all_reduce, broadcast, ...), SyncBatchNorm / convert_sync_batchnorm and DistributedDataParallel.
// Not part of <hnn/hnn.hpp>: include it explicitly, in a build with HNN_WITH_MPI (it needs <mpi.h>).
#pragma once

#ifndef HNN_WITH_MPI
#error \
    "<hnn/distributed.hpp> needs MPI: configure hnn with -DHNN_WITH_MPI=ON (links MPI::MPI_CXX and defines HNN_WITH_MPI), or compile with mpicxx and -DHNN_WITH_MPI"
#endif

#include "hnn/distributed/process_group.hpp"
#include "hnn/distributed/sync_batch_norm.hpp"
#include "hnn/nn/parallel/distributed.hpp"
#include "hnn/nn/sync_batch_norm.hpp"
