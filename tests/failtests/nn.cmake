# Failtests of the training substrate (see compress_add_failtest in tests/CMakeLists.txt).
compress_add_failtest(nn_schedule_without_sparsity_at ${CMAKE_CURRENT_LIST_DIR}/nn_schedule_without_sparsity_at.cpp
                      "Schedule must answer sparsity_at")
