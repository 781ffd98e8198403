# Helpers for hnn's own targets (tests, examples, benchmarks): warnings, native code generation,
# sanitizers, and Catch2 test discovery at ctest time. Nothing here reaches hnn::hnn's users.
include_guard(GLOBAL)

# hnn_project_target(<target>)
#   -Wall -Wextra -Werror for C++ sources. GCC 12's middle-end diagnostics below give false
#   positives at -O3 and under sanitizers (in Eigen and libstdc++ code inlined into ours), so they
#   stay visible as warnings but do not fail the build. Eigen's headers are -isystem already
#   (they come from the imported Eigen3::Eigen target); hnn's own headers are not, on purpose.
#   HNN_NATIVE adds -march=native; HNN_SANITIZE adds -fsanitize=... to compile and link.
#   .cu sources get none of these (nvcc does not take them; see DESIGN.md, CUDA), but are
#   compiled as C++20 when CUDA is enabled.
function(hnn_project_target target)
  if(CMAKE_CUDA_COMPILER_LOADED)
    set_target_properties(${target} PROPERTIES CUDA_STANDARD 20 CUDA_STANDARD_REQUIRED ON CUDA_EXTENSIONS OFF)
  endif()
  set(_cxx "$<COMPILE_LANGUAGE:CXX>")
  # e.g. GCC bug 105651: "literal" + std::string&& at -O3 trips -Wrestrict inside libstdc++;
  # Eigen's AVX-512 GEMM kernel trips -Wmaybe-uninitialized with -march=native.
  set(_gcc_false_positives -Wno-error=maybe-uninitialized -Wno-error=uninitialized -Wno-error=array-bounds
      -Wno-error=stringop-overflow -Wno-error=stringop-overread -Wno-error=restrict)
  target_compile_options(${target} PRIVATE
    "$<${_cxx}:-Wall;-Wextra;-Werror>"
    "$<$<AND:${_cxx},$<CXX_COMPILER_ID:GNU>>:${_gcc_false_positives}>")
  if(HNN_NATIVE)
    target_compile_options(${target} PRIVATE "$<${_cxx}:-march=native>")
  endif()
  if(HNN_SANITIZE)
    # Accept "address;undefined" (a CMake list) as well as "address,undefined".
    string(REPLACE ";" "," _sanitizers "${HNN_SANITIZE}")
    set(_flags "-fsanitize=${_sanitizers}")
    if(_sanitizers MATCHES "undefined")
      list(APPEND _flags -fno-sanitize-recover=all)  # otherwise UBSan reports and the test passes
    endif()
    target_compile_options(${target} PRIVATE "$<${_cxx}:${_flags};-fno-omit-frame-pointer>")
    target_link_options(${target} PRIVATE "$<$<LINK_LANGUAGE:CXX>:${_flags}>")
  endif()
endfunction()

# hnn_catch_discover_tests(<target> [TEST_PREFIX <prefix>] [WORKING_DIRECTORY <dir>]
#                          [EXTRA_ARGS <arg>...] [PROPERTIES <name> <value>...])
#   Registers one ctest test per Catch2 TEST_CASE of <target>, like catch_discover_tests from
#   Catch2's Catch.cmake, but lists the test cases when ctest starts (what CMake's gtest module
#   calls DISCOVERY_MODE PRE_TEST; Catch2 v2's module only knows POST_BUILD): building never runs
#   a test binary, which matters for sanitizer and CUDA builds. The list is cached next to the
#   binary and refreshed when the binary is newer. A binary that cannot list its tests, or has
#   none, shows up as a failing test instead of silently vanishing.
function(hnn_catch_discover_tests target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "TEST_PREFIX;WORKING_DIRECTORY" "EXTRA_ARGS;PROPERTIES")
  if(NOT arg_WORKING_DIRECTORY)
    set(arg_WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  endif()
  set(_base "${CMAKE_CURRENT_BINARY_DIR}/${target}_catch")
  set(_args "")
  foreach(_item IN LISTS arg_EXTRA_ARGS)
    string(APPEND _args " [==[${_item}]==]")
  endforeach()
  set(_props "")
  foreach(_item IN LISTS arg_PROPERTIES)
    string(APPEND _props " [==[${_item}]==]")
  endforeach()
  # One script per configuration (multi-config generators); $<CONFIG> is empty or the build type
  # for single-config ones.
  file(GENERATE OUTPUT "${_base}_discover-$<CONFIG>.cmake" CONTENT
"include([==[${HNN_HELPERS_DIR}/HnnCatchAddTests.cmake]==])
hnn_catch_add_tests(
  TARGET [==[${target}]==]
  EXECUTABLE [==[$<TARGET_FILE:${target}>]==]
  WORKING_DIRECTORY [==[${arg_WORKING_DIRECTORY}]==]
  PREFIX [==[${arg_TEST_PREFIX}]==]
  CACHE_FILE [==[${_base}_tests-$<CONFIG>.cmake]==]
  CMAKE_COMMAND [==[${CMAKE_COMMAND}]==]
  EXTRA_ARGS${_args}
  PROPERTIES${_props})
")
  get_property(_multi GLOBAL PROPERTY GENERATOR_IS_MULTI_CONFIG)
  if(_multi)
    file(WRITE "${_base}_include.cmake"
      "include([==[${_base}_discover-\${CTEST_CONFIGURATION_TYPE}.cmake]==] OPTIONAL)\n")
  else()
    file(WRITE "${_base}_include.cmake" "include([==[${_base}_discover-${CMAKE_BUILD_TYPE}.cmake]==])\n")
  endif()
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${_base}_include.cmake")
endfunction()

set(HNN_HELPERS_DIR "${CMAKE_CURRENT_LIST_DIR}" CACHE INTERNAL "Directory of HnnHelpers.cmake")
