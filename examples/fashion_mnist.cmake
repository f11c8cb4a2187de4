# The end-to-end Fashion-MNIST demo (examples/fashion_mnist/), the project's main job:
# `make demo` builds `demo_program` and runs `run_demo` from the project root.
find_package(ZLIB REQUIRED)  # the Fashion-MNIST loader reads the gzipped IDX files

set(_demo_dir ${CMAKE_CURRENT_LIST_DIR}/fashion_mnist)
add_executable(demo_program
  ${_demo_dir}/main.cpp ${_demo_dir}/train.cpp ${_demo_dir}/report.cpp
  ${_demo_dir}/rows_prune.cpp ${_demo_dir}/rows_quant.cpp ${_demo_dir}/rows_other.cpp)
# compress::native: the kernels are compiled for this machine's CPU (AVX-512 / AVX2 paths),
# as a user deploying here would; the demo runs where it is built.
target_link_libraries(demo_program PRIVATE compress_internal compress_native ZLIB::ZLIB)
set_target_properties(demo_program PROPERTIES OUTPUT_NAME demo)
# What the demo reports about its own build, and where the CLI of this build lives.
get_target_property(_demo_native_flags compress_native INTERFACE_COMPILE_OPTIONS)
string(TOUPPER "${CMAKE_BUILD_TYPE}" _demo_bt)
set(_demo_flags "${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}, ${CMAKE_BUILD_TYPE}: ${CMAKE_CXX_FLAGS} ${CMAKE_CXX_FLAGS_${_demo_bt}} ${_demo_native_flags}")
string(REGEX REPLACE "  +" " " _demo_flags "${_demo_flags}")
string(REPLACE "\"" "\\\"" _demo_flags "${_demo_flags}")
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/demo_config/demo_config.h.new
"#pragma once
#define COMPRESS_DEMO_CLI \"${CMAKE_BINARY_DIR}/tools/compress\"
#define COMPRESS_DEMO_FLAGS \"${_demo_flags}\"
")
# copied only when it changed, so a re-configure does not rebuild the demo
configure_file(${CMAKE_CURRENT_BINARY_DIR}/demo_config/demo_config.h.new
               ${CMAKE_CURRENT_BINARY_DIR}/demo_config/demo_config.h COPYONLY)
target_include_directories(demo_program PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/demo_config)

add_custom_target(run_demo
  COMMAND demo_program --out ${CMAKE_BINARY_DIR}/demo-out
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  USES_TERMINAL
  COMMENT "Running the Fashion-MNIST demo")

# `make demo` also shows what the `compress` CLI says about the demo's files: build it first
# when the tools are part of this build (tools/ is added after examples/, hence the deferral).
function(_compress_demo_after_tools)
  if(TARGET compress_cli)
    add_dependencies(demo_program compress_cli)
  endif()
endfunction()
if(NOT CMAKE_VERSION VERSION_LESS 3.19)
  cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL _compress_demo_after_tools)
endif()

# Smoke test: the quick run (10,000 training images, 1 epoch per training) prints every row
# with an accuracy above chance; the docs are not touched.
if(COMPRESS_BUILD_TESTS)
  add_test(NAME example:demo_quick
           COMMAND ${CMAKE_COMMAND}
                   -DDEMO=$<TARGET_FILE:demo_program>
                   -DOUT=${CMAKE_CURRENT_BINARY_DIR}/demo-quick-out
                   -P ${_demo_dir}/check_quick.cmake
           WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  set_tests_properties(example:demo_quick PROPERTIES TIMEOUT 240 FIXTURES_SETUP demo_quick_out)
  # The pruned models it saved load back as CSR: `compress report` decodes every tensor of the
  # file (csr::to_dense, which validates the row pointers and indices) and compares it with the
  # dense model of the same run.
  if(COMPRESS_BUILD_TOOLS)
    set(_q ${CMAKE_CURRENT_BINARY_DIR}/demo-quick-out)
    foreach(m prune_global90 prune_gradual90)
      add_test(NAME example:demo_quick_reads_${m}
               COMMAND ${CMAKE_COMMAND} -DCLI=$<TARGET_FILE:compress_cli>
                       "-DARGS=report|${_q}/dense.safetensors|${_q}/${m}.safetensors" -DEXPECT_CODE=0
                       "-DEXPECT_OUT=fc1\\.weight +csr .*fc2\\.weight +csr .*fc3\\.weight +csr .*total: 1\\.0 MiB -> "
                       -P ${PROJECT_SOURCE_DIR}/tests/cli/run_cli.cmake)
      set_tests_properties(example:demo_quick_reads_${m} PROPERTIES FIXTURES_REQUIRED demo_quick_out)
    endforeach()
  endif()
endif()
