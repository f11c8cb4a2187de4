# Tests of the training substrate (include/compress/nn/).
compress_add_test(test_nn_layers test_nn_layers.cpp)
compress_add_test(test_nn_optim test_nn_optim.cpp)
compress_add_test(test_nn_train test_nn_train.cpp)

# The Fashion-MNIST loader needs zlib (only this header does).
find_package(ZLIB REQUIRED)
compress_add_test(test_nn_fashion_mnist test_nn_fashion_mnist.cpp)
target_link_libraries(test_nn_fashion_mnist PRIVATE ZLIB::ZLIB)
compress_add_test(test_nn_conv test_nn_conv.cpp)

# conv2d splits samples across OpenMP threads: the same tests built with OpenMP.
find_package(OpenMP)
if(OpenMP_CXX_FOUND)
  compress_add_test(test_nn_conv_openmp test_nn_conv.cpp)
  target_link_libraries(test_nn_conv_openmp PRIVATE OpenMP::OpenMP_CXX)
  target_compile_definitions(test_nn_conv_openmp PRIVATE COMPRESS_USE_OPENMP=1)
endif()

# Against PyTorch (tests/golden/golden_nn.py), and with prune.hpp / quantize.hpp in the loop.
compress_add_test(test_nn_golden test_nn_golden.cpp)
compress_add_test(test_nn_compression test_nn_compression.cpp)
