# Dense and sparse linear layers vs OpenBLAS (cblas_sgemm / sgemv) and Eigen SparseMatrix
# (benchmarks/run_sparse.sh runs it and writes section `sparse` of docs/results.md).
find_path(SPARSE_OPENBLAS_INCLUDE cblas.h
          PATHS /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas NO_DEFAULT_PATH)
find_library(SPARSE_OPENBLAS_LIB NAMES openblas
             PATHS /usr/lib/x86_64-linux-gnu/openblas-pthread NO_DEFAULT_PATH)
find_package(Eigen3 3.3 NO_MODULE)
if(SPARSE_OPENBLAS_INCLUDE AND SPARSE_OPENBLAS_LIB AND TARGET Eigen3::Eigen)
  add_executable(bench_sparse ${CMAKE_CURRENT_LIST_DIR}/bench_sparse.cpp)
  target_include_directories(bench_sparse PRIVATE ${SPARSE_OPENBLAS_INCLUDE})
  # Everything at the machine's best: AVX-512 for compress and Eigen; Eigen single-threaded.
  target_compile_options(bench_sparse PRIVATE -march=native)
  target_compile_definitions(bench_sparse PRIVATE EIGEN_DONT_PARALLELIZE)
  target_link_libraries(bench_sparse PRIVATE compress_internal benchmark::benchmark Eigen3::Eigen ${SPARSE_OPENBLAS_LIB})
else()
  message(WARNING "bench_sparse skipped: OpenBLAS (${SPARSE_OPENBLAS_LIB}) or Eigen3 not found")
endif()
