# Low-bit kernels (issue: W8A8 VNNI, weight-only int4/int8, binary XNOR-popcount).
# The kernel tests (test_lowbit_int8/int4/binary.cpp) are part of the three test_kernels_*
# builds (kernels.cmake); linear() on low-bit weights (test_linear_lowbit.cpp) is part of
# test_linear (sparse.cmake); the OpenMP split of test_openmp (openmp.cmake).
