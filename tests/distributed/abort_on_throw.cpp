// A program whose last rank throws while the others wait in a barrier: with hnn::distributed's abort
// machinery the job ends at once (MPI_Abort) and mpirun exits non-zero; without it, it would hang.
// Mode "terminate": the exception escapes main (the terminate handler of init_process_group aborts);
// mode "run_or_abort": the exception escapes a function run by hnn::distributed::run_or_abort.
// Driven by expect_abort.cmake, which checks the exit status, the message and the time taken.
#include <cstring>
#include <hnn/distributed/process_group.hpp>
#include <stdexcept>

int main(int argc, char** argv) {
  hnn::distributed::init_process_group();
  const bool use_run_or_abort = argc > 1 && std::strcmp(argv[1], "run_or_abort") == 0;
  const int rank = hnn::distributed::get_rank(), world = hnn::distributed::get_world_size();
  auto body = [&] {
    if (rank == world - 1) throw std::runtime_error("deliberate failure in the training step");
    hnn::distributed::barrier();  // never completes: the last rank does not arrive
    return 0;
  };
  const int rc = use_run_or_abort ? hnn::distributed::run_or_abort(body) : body();
  hnn::distributed::destroy_process_group();
  return rc;
}
