# Tests of distill.hpp, regularize.hpp, fuse.hpp, cluster.hpp, lowrank.hpp (area `families`).
compress_add_test(test_distill ${CMAKE_CURRENT_LIST_DIR}/test_distill.cpp)
compress_add_test(test_regularize ${CMAKE_CURRENT_LIST_DIR}/test_regularize.cpp)
compress_add_test(test_fuse ${CMAKE_CURRENT_LIST_DIR}/test_fuse.cpp)
compress_add_test(test_cluster ${CMAKE_CURRENT_LIST_DIR}/test_cluster.cpp)
compress_add_test(test_huffman ${CMAKE_CURRENT_LIST_DIR}/test_huffman.cpp)
# lowrank.hpp needs LAPACKE: its test links compress::lowrank, like a user of the header.
if(TARGET compress_lowrank)
  compress_add_test(test_lowrank ${CMAKE_CURRENT_LIST_DIR}/test_lowrank.cpp)
  target_link_libraries(test_lowrank PRIVATE compress_lowrank)
endif()
