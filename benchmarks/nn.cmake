# Training substrate vs PyTorch: the LeNet example (examples/nn/lenet.cpp) built for the
# machine (-march=native, as PyTorch dispatches to AVX-512 at run time) with OpenMP, so that
# both sides use the same 2 threads. benchmarks/run_nn.sh runs it beside examples/nn/lenet_pytorch.py.
find_package(ZLIB REQUIRED)
find_package(OpenMP REQUIRED)
add_executable(bench_nn_lenet ${PROJECT_SOURCE_DIR}/examples/nn/lenet.cpp)
target_link_libraries(bench_nn_lenet PRIVATE compress_internal compress_native ZLIB::ZLIB OpenMP::OpenMP_CXX)
target_compile_definitions(bench_nn_lenet PRIVATE COMPRESS_USE_OPENMP=1)
