# ctest "consumer/subdirectory": builds and runs tests/consumer/subdir, which pulls hnn in with
# add_subdirectory(<hnn source> hnn_build). Run as
#   cmake -DHNN_SOURCE_DIR=<hnn source> -DHNN_CONSUMER_SOURCE_DIR=<this dir>/subdir
#         -DHNN_CONSUMER_WORK_DIR=<scratch> [-DHNN_CONSUMER_GENERATOR=..] -P run_subdirectory.cmake
cmake_minimum_required(VERSION 3.25)
include("${CMAKE_CURRENT_LIST_DIR}/consumer_steps.cmake")

foreach(var HNN_SOURCE_DIR HNN_CONSUMER_SOURCE_DIR HNN_CONSUMER_WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "run_subdirectory.cmake needs -D${var}=...")
  endif()
endforeach()

hnn_consumer_build_and_run("${HNN_CONSUMER_SOURCE_DIR}" "${HNN_CONSUMER_WORK_DIR}/build"
  "-DHNN_SOURCE_DIR=${HNN_SOURCE_DIR}" -DHNN_BUILD_TESTS=OFF -DHNN_BUILD_EXAMPLES=OFF
  -DHNN_BUILD_BENCHMARKS=OFF)
