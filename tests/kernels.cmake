# Every kernel test in one program built three times (compress_add_arch_test): test_kernels_native
# (-march=native, AVX-512 here), test_kernels_avx2 (-mavx2 -mfma) and test_kernels_baseline (no
# SIMD flags); each also runs the compress::scalar_arch path, and their integer results must match
# it bit for bit. Dense sgemm, linear() over every sparse format, the quantization packing
# kernels, the low-bit kernels (W8A8, weight-only int8/int4, binary/ternary), and the kernel
# property tests. Two files per TU: the kernel TUs are the heaviest of the suite.
set(_kernel_tests test_linear_kernels.cpp test_gemm.cpp test_lowbit_int8.cpp test_lowbit_int4.cpp
                  test_lowbit_binary.cpp test_quantize_kernels.cpp test_properties_kernels.cpp)
list(TRANSFORM _kernel_tests PREPEND ${CMAKE_CURRENT_LIST_DIR}/)
compress_add_arch_test(test_kernels ${_kernel_tests} BATCH 2)
