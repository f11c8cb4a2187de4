# Tests of the sparse formats and compress::linear (issue: sparse kernels), one program,
# test_linear: formats, linear() on sparse and low-bit weights, and the linear property tests
# (linear.hpp + prune + quantize + sparse, built once: default arch vs scalar_arch inside the
# test). The kernels' own three-architecture tests are test_kernels_* (kernels.cmake).
compress_add_test(test_linear ${CMAKE_CURRENT_LIST_DIR}/test_sparse.cpp ${CMAKE_CURRENT_LIST_DIR}/test_linear.cpp
                  ${CMAKE_CURRENT_LIST_DIR}/test_linear_lowbit.cpp ${CMAKE_CURRENT_LIST_DIR}/test_properties_linear.cpp)
