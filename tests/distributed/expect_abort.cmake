# Runs the abort_on_throw program under mpiexec and fails unless the job ends within 30 s
# with a non-zero status and a message naming the failing rank. Arguments (-D): MPIEXEC, FLAGS (space-separated),
# NP, PROGRAM, MODE.
set(limit 30)  # seconds: a hang would run into this
separate_arguments(flags UNIX_COMMAND "${FLAGS}")
string(TIMESTAMP start "%s")
execute_process(
  COMMAND "${MPIEXEC}" ${flags} -np ${NP} "${PROGRAM}" ${MODE}
  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT ${limit})
string(TIMESTAMP stop "%s")
math(EXPR elapsed "${stop} - ${start}")
message(STATUS "mpiexec -np ${NP} ${MODE}: status '${result}' after ${elapsed} s\n${out}${err}")
if(result STREQUAL "0")
  message(FATAL_ERROR "mpiexec exited 0 although a rank threw")
endif()
if(NOT result MATCHES "^[0-9]+$")
  message(FATAL_ERROR "mpiexec did not finish within ${limit} s (${result}): a throwing rank hung the job")
endif()
math(EXPR last "${NP} - 1")
if(NOT "${out}${err}" MATCHES "rank ${last} failed: .*deliberate failure in the training step")
  message(FATAL_ERROR "the abort message does not name rank ${last} and the exception")
endif()
