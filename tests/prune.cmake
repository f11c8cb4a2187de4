# Pruning (prune.hpp): unstructured and criteria, structured groupings, PyTorch goldens,
# schedules / global / dynamic pruning, neuron removal.
compress_add_test(test_prune test_prune.cpp)
compress_add_test(test_prune_structured test_prune_structured.cpp)
compress_add_test(test_prune_golden test_prune_golden.cpp)
