# ctest driver for an example run: runs COMMAND (a ;-list) in WORK_DIR, fails unless it exits 0, its
# last output line matches LAST_LINE (a regex) and every file in EXPECT_FILES exists afterwards.
# With ONCE (a regex), exactly one output line must start with a match (a multi-rank run where only
# rank 0 may print).
#   cmake -DCOMMAND=... -DWORK_DIR=... -DLAST_LINE=... [-DEXPECT_FILES=a;b] [-DONCE=re] -P HnnRunExample.cmake
file(MAKE_DIRECTORY "${WORK_DIR}")
foreach(f IN LISTS EXPECT_FILES)
  file(REMOVE "${WORK_DIR}/${f}")
endforeach()
execute_process(COMMAND ${COMMAND} WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "example exited with ${rc}:\n${err}")
endif()
string(STRIP "${out}" stripped)
string(REGEX MATCH "[^\n]*$" last "${stripped}")
if(NOT last MATCHES "${LAST_LINE}")
  message(FATAL_ERROR "last line '${last}' does not match '${LAST_LINE}'")
endif()
if(DEFINED ONCE)
  string(REGEX MATCHALL "(^|\n)${ONCE}" matches "${out}")
  list(LENGTH matches count)
  if(NOT count EQUAL 1)
    message(FATAL_ERROR "expected exactly one output line matching '${ONCE}', found ${count}")
  endif()
endif()
foreach(f IN LISTS EXPECT_FILES)
  if(NOT EXISTS "${WORK_DIR}/${f}")
    message(FATAL_ERROR "expected output file ${f} was not written")
  endif()
endforeach()
