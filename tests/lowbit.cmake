# Low-bit kernels (issue: W8A8 VNNI, weight-only int4/int8, binary XNOR-popcount).
# Each kernel test is built three times (native / AVX2 / baseline) and also runs the scalar path.
compress_add_arch_test(test_lowbit_int8 ${CMAKE_CURRENT_LIST_DIR}/test_lowbit_int8.cpp)
compress_add_arch_test(test_lowbit_int4 ${CMAKE_CURRENT_LIST_DIR}/test_lowbit_int4.cpp)
compress_add_arch_test(test_lowbit_binary ${CMAKE_CURRENT_LIST_DIR}/test_lowbit_binary.cpp)
compress_add_test(test_linear_lowbit ${CMAKE_CURRENT_LIST_DIR}/test_linear_lowbit.cpp)

# The kernels' OpenMP split (COMPRESS_USE_OPENMP): results identical for 1, 2 and 3 threads.
find_package(OpenMP)
if(OpenMP_CXX_FOUND)
  compress_add_test(test_lowbit_openmp ${CMAKE_CURRENT_LIST_DIR}/test_lowbit_openmp.cpp)
  target_compile_options(test_lowbit_openmp PRIVATE -march=native)
  target_link_libraries(test_lowbit_openmp PRIVATE OpenMP::OpenMP_CXX)
  target_compile_definitions(test_lowbit_openmp PRIVATE COMPRESS_USE_OPENMP=1 COMPRESS_TEST_ARCH="native")
endif()
