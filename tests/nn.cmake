# Tests of the training substrate (include/compress/nn/): one program, test_nn, with the
# PyTorch goldens (tests/golden/golden_nn.py) and prune.hpp / quantize.hpp in the loop.
# The Fashion-MNIST loader needs zlib (only this header does). The OpenMP build of
# test_nn_conv.cpp is part of test_openmp (openmp.cmake).
find_package(ZLIB REQUIRED)
compress_add_test(test_nn test_nn_layers.cpp test_nn_optim.cpp test_nn_train.cpp test_nn_fashion_mnist.cpp
                  test_nn_conv.cpp test_nn_golden.cpp test_nn_compression.cpp)
target_link_libraries(test_nn PRIVATE ZLIB::ZLIB)
