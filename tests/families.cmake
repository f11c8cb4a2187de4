# Tests of distill.hpp, regularize.hpp, fuse.hpp, cluster.hpp, lowrank.hpp (area `families`).
# One program, test_families. lowrank.hpp needs LAPACKE: with it, the program links
# compress::lowrank, like a user of the header.
set(_families_tests test_distill.cpp test_regularize.cpp test_fuse.cpp test_cluster.cpp test_huffman.cpp)
if(TARGET compress_lowrank)
  list(APPEND _families_tests test_lowrank.cpp)
endif()
list(TRANSFORM _families_tests PREPEND ${CMAKE_CURRENT_LIST_DIR}/)
compress_add_test(test_families ${_families_tests})
if(TARGET compress_lowrank)
  target_link_libraries(test_families PRIVATE compress_lowrank)
endif()
