# The CUDA part of hnn, included from the HNN_WITH_CUDA block of the top-level CMakeLists.txt after
# enable_language(CUDA) and find_package(CUDAToolkit).
#
# hnn_cuda: a small static library holding the compiled kernels (include/hnn/cuda/kernels.cu), linked
# into hnn::hnn. A library rather than an INTERFACE source of hnn::hnn because (1) the kernels for three
# architectures take ~20 s of nvcc per translation unit: as an interface source every test, example
# and user target would recompile them; (2) a user's target then needs no CUDA language enabled and
# no nvcc flags of its own: it includes the plain host headers (hnn/cuda.hpp) and links the library;
# (3) the kernels are instantiated once, for float/double/int64, so there is one copy per program.
# Position-independent so it can go into a user's shared library.
include_guard(GLOBAL)

add_library(hnn_cuda STATIC "${PROJECT_SOURCE_DIR}/include/hnn/cuda/kernels.cu")
add_library(hnn::hnn_cuda ALIAS hnn_cuda)
set_target_properties(hnn_cuda PROPERTIES
  EXPORT_NAME hnn_cuda
  POSITION_INDEPENDENT_CODE ON
  CUDA_STANDARD 20 CUDA_STANDARD_REQUIRED ON CUDA_EXTENSIONS OFF
  CUDA_SEPARABLE_COMPILATION OFF)
target_include_directories(hnn_cuda PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_definitions(hnn_cuda PUBLIC HNN_WITH_CUDA)
# -lineinfo lets compute-sanitizer and Nsight name source lines; it does not change the code.
target_compile_options(hnn_cuda PRIVATE "$<$<COMPILE_LANGUAGE:CUDA>:-lineinfo;-Xcompiler=-Wall>")
target_link_libraries(hnn_cuda PUBLIC CUDA::cudart)
target_link_libraries(hnn INTERFACE hnn_cuda)

if(HNN_INSTALL)
  install(TARGETS hnn_cuda EXPORT hnnTargets ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}")
endif()

# The CUDA batch-norm benchmark (benchmarks/cuda_batch_norm_bench.cu) against cuDNN and a device copy.
# Built with HNN_BUILD_BENCHMARKS when cuDNN is found next to the toolkit; needs no Google Benchmark.
if(HNN_BUILD_BENCHMARKS AND EXISTS "${PROJECT_SOURCE_DIR}/benchmarks/cuda_batch_norm_bench.cu")
  find_path(HNN_CUDNN_INCLUDE_DIR cudnn.h HINTS "${CUDAToolkit_INCLUDE_DIRS}" /usr/local/cuda/include /usr/include)
  find_library(HNN_CUDNN_LIBRARY cudnn HINTS "${CUDAToolkit_LIBRARY_DIR}" /usr/local/cuda/lib64)
  if(HNN_CUDNN_INCLUDE_DIR AND HNN_CUDNN_LIBRARY)
    add_executable(cuda_batch_norm_bench "${PROJECT_SOURCE_DIR}/benchmarks/cuda_batch_norm_bench.cu")
    target_include_directories(cuda_batch_norm_bench PRIVATE "${HNN_CUDNN_INCLUDE_DIR}")
    target_link_libraries(cuda_batch_norm_bench PRIVATE hnn_cuda "${HNN_CUDNN_LIBRARY}")
    set_target_properties(cuda_batch_norm_bench PROPERTIES CUDA_STANDARD 20 CUDA_STANDARD_REQUIRED ON
                                                           CUDA_EXTENSIONS OFF)
  else()
    message(STATUS "hnn: cuDNN not found, the CUDA batch-norm benchmark is not built")
  endif()
endif()
