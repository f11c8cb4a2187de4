# Tests of the dense GEMM, sparse formats and compress::linear (issue: sparse kernels).
compress_add_arch_test(test_gemm ${CMAKE_CURRENT_LIST_DIR}/test_gemm.cpp)
