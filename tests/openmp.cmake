# The OpenMP splits (COMPRESS_USE_OPENMP), built with it whatever the project option says, so the
# threaded paths are tested in every configuration (release and ASan): one program, test_openmp.
# linear() and sgemm bit-identical for 1..4 threads, the low-bit kernels for 1..3, and conv2d
# (test_nn_conv.cpp again, its samples split across threads).
find_package(OpenMP COMPONENTS CXX)
if(OpenMP_CXX_FOUND)
  compress_add_test(test_openmp ${CMAKE_CURRENT_LIST_DIR}/test_linear_openmp.cpp
                    ${CMAKE_CURRENT_LIST_DIR}/test_lowbit_openmp.cpp ${CMAKE_CURRENT_LIST_DIR}/test_nn_conv.cpp)
  target_compile_options(test_openmp PRIVATE -march=native)
  target_compile_definitions(test_openmp PRIVATE COMPRESS_USE_OPENMP=1 COMPRESS_TEST_ARCH="native+openmp")
  target_link_libraries(test_openmp PRIVATE OpenMP::OpenMP_CXX)
endif()
