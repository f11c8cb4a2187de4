# Low-bit kernels vs OpenBLAS fp32 and gemmlowp (PyTorch/oneDNN runs beside: lowbit_torch.py).
# Debian's gemmlowp is header-only; its AVX2 kernel needs -mavx2 (here -march=native) AND
# -DGEMMLOWP_ENABLE_AVX2, otherwise it silently falls back to the SSE4 kernel.
find_path(LOWBIT_OPENBLAS_INCLUDE cblas.h
          PATHS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas NO_DEFAULT_PATH)
find_library(LOWBIT_OPENBLAS_LIB NAMES openblas
             PATHS /usr/lib/x86_64-linux-gnu/openblas-pthread NO_DEFAULT_PATH)
find_path(LOWBIT_GEMMLOWP_INCLUDE gemmlowp/public/gemmlowp.h)
find_package(Threads REQUIRED)
if(LOWBIT_OPENBLAS_INCLUDE AND LOWBIT_OPENBLAS_LIB AND LOWBIT_GEMMLOWP_INCLUDE)
  add_executable(bench_lowbit ${CMAKE_CURRENT_LIST_DIR}/bench_lowbit.cpp)
  target_include_directories(bench_lowbit PRIVATE ${LOWBIT_OPENBLAS_INCLUDE} ${LOWBIT_GEMMLOWP_INCLUDE})
  target_compile_options(bench_lowbit PRIVATE -march=native)
  target_compile_definitions(bench_lowbit PRIVATE GEMMLOWP_ENABLE_AVX2)
  target_link_libraries(bench_lowbit PRIVATE compress_internal benchmark::benchmark ${LOWBIT_OPENBLAS_LIB} Threads::Threads)
else()
  message(WARNING "bench_lowbit skipped: OpenBLAS (${LOWBIT_OPENBLAS_LIB}) or gemmlowp headers not found")
endif()
