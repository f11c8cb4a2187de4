# Pruning speed vs torch.nn.utils.prune (benchmarks/run_prune.sh runs both sides).
add_executable(bench_prune ${CMAKE_CURRENT_LIST_DIR}/bench_prune.cpp)
target_link_libraries(bench_prune PRIVATE compress_internal benchmark::benchmark)
