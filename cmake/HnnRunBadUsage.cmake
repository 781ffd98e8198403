# ctest driver for an example given bad input: runs COMMAND (a ;-list) in WORK_DIR and fails unless it exits
# with EXPECT_EXIT (default 2, bad usage) and prints exactly one line on stderr that starts with
# "<PROGRAM>: " and matches MESSAGE (a regex) - no help text, no "terminate called", no stack trace.
# Unless ALLOW_STDOUT is set, stdout must stay empty too (bad usage is found before any work starts).
#   cmake -DCOMMAND=... -DPROGRAM=lenet -DMESSAGE=regex [-DEXPECT_EXIT=2] [-DALLOW_STDOUT=ON] [-DWORK_DIR=dir]
#         -P HnnRunBadUsage.cmake
if(NOT DEFINED EXPECT_EXIT)
  set(EXPECT_EXIT 2)
endif()
if(NOT DEFINED WORK_DIR)
  set(WORK_DIR "${CMAKE_CURRENT_BINARY_DIR}")
endif()
file(MAKE_DIRECTORY "${WORK_DIR}")
execute_process(COMMAND ${COMMAND} WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
string(JOIN " " shown ${COMMAND})
if(NOT rc STREQUAL "${EXPECT_EXIT}")
  message(FATAL_ERROR "${shown}\nexited with '${rc}', expected ${EXPECT_EXIT}\nstdout:\n${out}\nstderr:\n${err}")
endif()
string(REGEX REPLACE "\n$" "" err_line "${err}")
if(err_line STREQUAL "" OR err_line MATCHES "\n")
  message(FATAL_ERROR "${shown}\nexpected exactly one line on stderr, got:\n${err}")
endif()
string(LENGTH "${PROGRAM}: " prefix_length)
string(SUBSTRING "${err_line}" 0 ${prefix_length} prefix)
if(NOT prefix STREQUAL "${PROGRAM}: ")
  message(FATAL_ERROR "${shown}\nstderr line does not start with '${PROGRAM}: ': ${err_line}")
endif()
if(NOT err_line MATCHES "${MESSAGE}")
  message(FATAL_ERROR "${shown}\nstderr line '${err_line}' does not match '${MESSAGE}'")
endif()
if(NOT ALLOW_STDOUT AND NOT out STREQUAL "")
  message(FATAL_ERROR "${shown}\nexpected nothing on stdout, got:\n${out}")
endif()
message("${shown}\n  -> exit ${rc}: ${err_line}")
