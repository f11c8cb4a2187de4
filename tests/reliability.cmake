# Reliability (issue 10): the fuzz targets replayed over their committed corpora and every
# regression input (fuzz/regressions/<target>/) with the ordinary compiler, so `make test`
# runs them in the release and the ASan/UBSan builds without clang; property tests; threads.
find_package(ZLIB REQUIRED)
set(COMPRESS_FUZZ_DIR ${PROJECT_SOURCE_DIR}/fuzz)
set(_fuzz_targets safetensors npy compressed idx)
if(EXISTS ${PROJECT_SOURCE_DIR}/tools/cli/args.hpp)
  list(APPEND _fuzz_targets cli_args)
endif()
foreach(t ${_fuzz_targets})
  add_executable(fuzz_replay_${t} ${COMPRESS_FUZZ_DIR}/fuzz_${t}.cpp ${COMPRESS_FUZZ_DIR}/replay_main.cpp)
  target_link_libraries(fuzz_replay_${t} PRIVATE compress_internal ZLIB::ZLIB)
  target_include_directories(fuzz_replay_${t} PRIVATE ${PROJECT_SOURCE_DIR}/tools)
  target_compile_options(fuzz_replay_${t} PRIVATE -Werror ${_test_opt})
  if(t STREQUAL "cli_args")
    # libstdc++ 12's <regex> trips -Wmaybe-uninitialized at -O1 (the sanitizer build)
    target_compile_options(fuzz_replay_${t} PRIVATE -Wno-maybe-uninitialized)
  endif()
  add_test(NAME fuzz_regress:${t}
           COMMAND fuzz_replay_${t} ${COMPRESS_FUZZ_DIR}/corpus/${t} ${COMPRESS_FUZZ_DIR}/regressions/${t})
  set_tests_properties(fuzz_regress:${t} PROPERTIES TIMEOUT 300)
endforeach()

# Property tests over random shapes and seeds.
compress_add_test(test_properties_prune ${CMAKE_CURRENT_LIST_DIR}/test_properties_prune.cpp)
compress_add_test(test_properties_quantize ${CMAKE_CURRENT_LIST_DIR}/test_properties_quantize.cpp)
compress_add_test(test_properties_io ${CMAKE_CURRENT_LIST_DIR}/test_properties_io.cpp)
compress_add_arch_test(test_properties_kernels ${CMAKE_CURRENT_LIST_DIR}/test_properties_kernels.cpp)

# Thread safety: built here for `make test`, and with -fsanitize=thread by `make tsan`.
find_package(Threads REQUIRED)
compress_add_test(test_threads ${CMAKE_CURRENT_LIST_DIR}/test_threads.cpp)
target_link_libraries(test_threads PRIVATE Threads::Threads)
# linear.hpp + prune + quantize + sparse is a heavy TU: built once (default arch vs scalar_arch
# inside the test); the kernels' own arch coverage is test_properties_kernels (three builds).
compress_add_test(test_properties_linear ${CMAKE_CURRENT_LIST_DIR}/test_properties_linear.cpp)

# Streamed compression of big checkpoints by the CLI (tools/cli/stream.hpp, called by
# commands.hpp for quantize and per-tensor prune).
# Its test cases are part of the test_cli program (tests/io.cmake): one unity TU for both, as
# each TU that includes tools/cli/commands.hpp compiles the whole CLI (about a minute).
