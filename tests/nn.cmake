# Tests of the training substrate (include/compress/nn/).
compress_add_test(test_nn_layers test_nn_layers.cpp)
compress_add_test(test_nn_optim test_nn_optim.cpp)
compress_add_test(test_nn_train test_nn_train.cpp)

# The Fashion-MNIST loader needs zlib (only this header does).
find_package(ZLIB REQUIRED)
compress_add_test(test_nn_fashion_mnist test_nn_fashion_mnist.cpp)
target_link_libraries(test_nn_fashion_mnist PRIVATE ZLIB::ZLIB)
