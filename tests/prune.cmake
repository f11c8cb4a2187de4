# Pruning (prune.hpp): unstructured and criteria, structured groupings, PyTorch goldens,
# schedules / global / dynamic pruning, neuron removal.
compress_add_test(test_prune test_prune.cpp)
compress_add_test(test_prune_structured test_prune_structured.cpp)
compress_add_test(test_prune_golden test_prune_golden.cpp)
compress_add_test(test_prune_schedule test_prune_schedule.cpp)
compress_add_test(test_prune_remove test_prune_remove.cpp)
