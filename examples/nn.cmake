# Examples of the training substrate: LeNet-300-100 and a LeNet-5-style CNN on Fashion-MNIST.
# The loader needs zlib (nn/fashion_mnist.hpp is the only header that does).
# For the epoch-time comparison with PyTorch, benchmarks/run_nn.sh uses bench_nn_lenet
# (benchmarks/nn.cmake: the same program built with OpenMP).
find_package(ZLIB REQUIRED)
add_executable(nn_lenet ${CMAKE_CURRENT_LIST_DIR}/nn/lenet.cpp)
# Built for the build machine (compress::native), as PyTorch dispatches to AVX-512 at run time.
target_link_libraries(nn_lenet PRIVATE compress_internal compress::native ZLIB::ZLIB)
