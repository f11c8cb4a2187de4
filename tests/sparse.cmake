# Tests of the dense GEMM, sparse formats and compress::linear (issue: sparse kernels).
compress_add_arch_test(test_gemm ${CMAKE_CURRENT_LIST_DIR}/test_gemm.cpp)
compress_add_arch_test(test_linear_kernels ${CMAKE_CURRENT_LIST_DIR}/test_linear_kernels.cpp)
compress_add_test(test_sparse ${CMAKE_CURRENT_LIST_DIR}/test_sparse.cpp)
compress_add_test(test_linear ${CMAKE_CURRENT_LIST_DIR}/test_linear.cpp)
# OpenMP: bit-identical results for 1..4 threads. Built with COMPRESS_USE_OPENMP whatever the
# project option says, so the threaded paths are tested in every build (release and ASan).
find_package(OpenMP COMPONENTS CXX)
if(OpenMP_CXX_FOUND)
  compress_add_test(test_linear_openmp ${CMAKE_CURRENT_LIST_DIR}/test_linear_openmp.cpp)
  target_compile_options(test_linear_openmp PRIVATE -march=native)
  target_compile_definitions(test_linear_openmp PRIVATE COMPRESS_USE_OPENMP=1 COMPRESS_TEST_ARCH="native+openmp")
  target_link_libraries(test_linear_openmp PRIVATE OpenMP::OpenMP_CXX)
endif()
