# Tests of the dense GEMM, sparse formats and compress::linear (issue: sparse kernels).
compress_add_arch_test(test_gemm ${CMAKE_CURRENT_LIST_DIR}/test_gemm.cpp)
compress_add_arch_test(test_linear_kernels ${CMAKE_CURRENT_LIST_DIR}/test_linear_kernels.cpp)
compress_add_test(test_sparse ${CMAKE_CURRENT_LIST_DIR}/test_sparse.cpp)
compress_add_test(test_linear ${CMAKE_CURRENT_LIST_DIR}/test_linear.cpp)
