# Quantization benchmark (benchmarks/run_quantize.sh runs it beside benchmarks/torch_quantize.py).
add_executable(bench_quantize ${CMAKE_CURRENT_LIST_DIR}/bench_quantize.cpp)
target_link_libraries(bench_quantize PRIVATE compress_internal benchmark::benchmark)
target_compile_options(bench_quantize PRIVATE -march=native)
