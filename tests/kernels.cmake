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

# The ODR guard of linear's Ext parameter (kernels/linear_lowbit.hpp): two TUs with the same xsimd
# arch (avx512bw) and different extension flags in one program, at -O0 (nothing inlined, so
# same-named instantiations really are merged by the linker). Only where this machine runs both.
set(_odr_base -O0 -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512cd)
set(_odr_cpu FALSE)
if(EXISTS /proc/cpuinfo AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  file(READ /proc/cpuinfo _cpuinfo LIMIT 8192)
  if(_cpuinfo MATCHES " avx512bw" AND _cpuinfo MATCHES " avx512_bf16" AND _cpuinfo MATCHES " avx512_vnni"
     AND _cpuinfo MATCHES " avx512_vpopcntdq")
    set(_odr_cpu TRUE)
  endif()
endif()
if(_odr_cpu)
  compress_add_test(test_lowbit_odr ${CMAKE_CURRENT_LIST_DIR}/test_lowbit_odr.cpp
                    ${CMAKE_CURRENT_LIST_DIR}/test_lowbit_odr_ext.cpp)
  set_target_properties(test_lowbit_odr PROPERTIES UNITY_BUILD OFF)
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/test_lowbit_odr.cpp PROPERTIES COMPILE_OPTIONS "${_odr_base}")
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/test_lowbit_odr_ext.cpp PROPERTIES
                              COMPILE_OPTIONS "${_odr_base};-mavx512vnni;-mavx512bf16;-mavx512vpopcntdq")
endif()
