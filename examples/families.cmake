# Examples of the `families` area (distill.hpp, cluster.hpp): both train on Fashion-MNIST for
# minutes, so they are built but not run as tests; examples/families/run.sh runs them and writes
# their numbers into docs/results.md (section `families`).
find_package(ZLIB REQUIRED)  # the Fashion-MNIST loader reads the gzipped IDX files
foreach(_ex distill_lenet deep_compression)
  add_executable(families_${_ex} ${CMAKE_CURRENT_LIST_DIR}/families/${_ex}.cpp)
  target_link_libraries(families_${_ex} PRIVATE compress_internal compress::native ZLIB::ZLIB)
endforeach()
