# Failtests of the core helpers (see compress_add_failtest in tests/CMakeLists.txt).
compress_add_failtest(mask_rank0 ${CMAKE_CURRENT_LIST_DIR}/mask_rank0.cpp "mask<N> needs N >= 1")
compress_add_failtest(wrong_policy_kind ${CMAKE_CURRENT_LIST_DIR}/wrong_policy_kind.cpp "Criterion must be a pruning criterion")
