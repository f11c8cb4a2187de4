# Tests of io.hpp (files) and the compress CLI (tools/).
# One program, test_io: the file formats, their property tests, and the CLI's argument parser
# (tools/cli/args.hpp, pure).
compress_add_test(test_io ${CMAKE_CURRENT_LIST_DIR}/test_io_npy.cpp ${CMAKE_CURRENT_LIST_DIR}/test_io_safetensors.cpp
                  ${CMAKE_CURRENT_LIST_DIR}/test_io_interop.cpp ${CMAKE_CURRENT_LIST_DIR}/test_io_compressed.cpp
                  ${CMAKE_CURRENT_LIST_DIR}/test_properties_io.cpp ${CMAKE_CURRENT_LIST_DIR}/test_cli_args.cpp)
target_include_directories(test_io PRIVATE ${PROJECT_SOURCE_DIR}/tools)

# The compress CLI (tools/): the commands in-process, the real binary.
# test_cli.cpp and test_cli_stream.cpp (streamed compression, tools/cli/stream.hpp): one program
# linking the tool's library (tools/CMakeLists.txt), which is compiled once for it and the tool.
compress_add_test(test_cli ${CMAKE_CURRENT_LIST_DIR}/test_cli.cpp ${CMAKE_CURRENT_LIST_DIR}/test_cli_stream.cpp)
target_link_libraries(test_cli PRIVATE compress_cli_lib)

# The real binary: exit codes and messages as a shell sees them.
if(COMPRESS_BUILD_TOOLS)
  function(compress_cli_test name code)
    cmake_parse_arguments(T "" "OUT;ERR" "ARGS" ${ARGN})
    set(extra)
    if(DEFINED T_OUT)
      list(APPEND extra "-DEXPECT_OUT=${T_OUT}")
    endif()
    if(DEFINED T_ERR)
      list(APPEND extra "-DEXPECT_ERR=${T_ERR}")
    endif()
    string(REPLACE ";" "|" args "${T_ARGS}")
    add_test(NAME cli:${name}
             COMMAND ${CMAKE_COMMAND} -DCLI=$<TARGET_FILE:compress_cli> "-DARGS=${args}" -DEXPECT_CODE=${code} ${extra}
                     -P ${CMAKE_CURRENT_LIST_DIR}/cli/run_cli.cmake)
  endfunction()
  set(_g ${COMPRESS_GOLDEN_DIR}/io)
  set(_o ${CMAKE_CURRENT_BINARY_DIR}/cli-out)
  file(MAKE_DIRECTORY ${_o})
  compress_cli_test(inspect 0 ARGS inspect ${_g}/mlp.safetensors OUT "net\\.4\\.weight +dense +F32 +\\[4, 12\\]")
  compress_cli_test(quantize 0 ARGS quantize ${_g}/mlp.safetensors ${_o}/mlp_int8.safetensors --scheme int8-sym-channel
                    OUT "quantized 3 tensors with int8-sym-channel")
  compress_cli_test(usage 2 ARGS quantize ${_g}/mlp.safetensors ERR "usage: 'quantize' takes 2 files")
  compress_cli_test(missing_file 3 ARGS inspect ${_o}/absent.safetensors ERR "io error: cannot open")
  compress_cli_test(malformed_file 4 ARGS inspect ${_g}/mlp_input.npy ERR "format error: safetensors")
  compress_cli_test(help 0 ARGS --help OUT "exit codes")
  set_tests_properties(cli:quantize PROPERTIES FIXTURES_SETUP cli_int8)
  compress_cli_test(report 0 ARGS report ${_g}/mlp.safetensors ${_o}/mlp_int8.safetensors --json OUT "\"totals\":")
  set_tests_properties(cli:report PROPERTIES FIXTURES_REQUIRED cli_int8)
  compress_cli_test(prune_24 0 ARGS prune ${_g}/mlp.safetensors ${_o}/mlp_24.safetensors --grouping 2:4
                    OUT "pruned 3 tensors \\(magnitude, 2:4, amount 0.5000\\): sparsity 50.00%.* stored auto")
  set_tests_properties(cli:prune_24 PROPERTIES FIXTURES_SETUP cli_24)
  compress_cli_test(inspect_24 0 ARGS inspect ${_o}/mlp_24.safetensors OUT "net\\.0\\.weight +n_of_m +F32 +\\[16, 8\\] +50.0%")
  compress_cli_test(report_24 0 ARGS report ${_g}/mlp.safetensors ${_o}/mlp_24.safetensors --batch 8 OUT "kernel vs dense \\(batch 8\\)")
  set_tests_properties(cli:inspect_24 cli:report_24 PROPERTIES FIXTURES_REQUIRED cli_24)
  compress_cli_test(bad_store 2 ARGS prune ${_g}/mlp.safetensors ${_o}/x.safetensors --amount 0.5 --store 2:4
                    ERR "--store 2:4 stores 2:4 masks; it needs --grouping 2:4, not unstructured")
endif()
