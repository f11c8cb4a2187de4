# Pruning (prune.hpp): unstructured and criteria, structured groupings, PyTorch goldens,
# schedules / global / dynamic pruning, neuron removal.
# One program, test_prune, with the pruning property tests.
compress_add_test(test_prune test_prune.cpp test_prune_structured.cpp test_prune_golden.cpp test_prune_schedule.cpp
                  test_prune_remove.cpp test_properties_prune.cpp)
