# ctest "consumer/installed": installs hnn from its build tree into a scratch prefix, then builds
# and runs tests/consumer against it with find_package(hnn). Run as
#   cmake -DHNN_BUILD_DIR=<hnn build> -DHNN_CONSUMER_SOURCE_DIR=<this dir>
#         -DHNN_CONSUMER_WORK_DIR=<scratch> [-DHNN_CONSUMER_GENERATOR=..] -P run_installed.cmake
cmake_minimum_required(VERSION 3.25)
include("${CMAKE_CURRENT_LIST_DIR}/consumer_steps.cmake")

foreach(var HNN_BUILD_DIR HNN_CONSUMER_SOURCE_DIR HNN_CONSUMER_WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "run_installed.cmake needs -D${var}=...")
  endif()
endforeach()

set(prefix "${HNN_CONSUMER_WORK_DIR}/prefix")
file(REMOVE_RECURSE "${prefix}")
set(install "${CMAKE_COMMAND}" --install "${HNN_BUILD_DIR}" --prefix "${prefix}")
if(HNN_CONSUMER_CONFIG)
  list(APPEND install --config "${HNN_CONSUMER_CONFIG}")
endif()
hnn_consumer_run(install ${install})
if(NOT EXISTS "${prefix}/include/hnn/hnn.hpp")
  message(FATAL_ERROR "consumer: ${prefix}/include/hnn/hnn.hpp was not installed")
endif()

# Only the scratch prefix (and the system) may provide hnn: the source tree must not leak in.
hnn_consumer_build_and_run("${HNN_CONSUMER_SOURCE_DIR}" "${HNN_CONSUMER_WORK_DIR}/build"
  "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
