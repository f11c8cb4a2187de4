# Reliability (issue 10): the fuzz targets replayed over their committed corpora and every
# regression input (fuzz/regressions/<target>/) with the ordinary compiler, so `make test`
# runs them in the release and the ASan/UBSan builds without clang; property tests; threads.
find_package(ZLIB REQUIRED)
set(COMPRESS_FUZZ_DIR ${PROJECT_SOURCE_DIR}/fuzz)
set(_fuzz_targets safetensors npy compressed idx)
if(EXISTS ${PROJECT_SOURCE_DIR}/tools/cli/args.hpp)
  list(APPEND _fuzz_targets cli_args)
endif()
# The replay driver (main) is compiled once and linked into each target's program.
add_library(compress_fuzz_replay_main OBJECT ${COMPRESS_FUZZ_DIR}/replay_main.cpp)
target_link_libraries(compress_fuzz_replay_main PRIVATE compress_internal)
target_compile_options(compress_fuzz_replay_main PRIVATE -Werror ${_test_opt})
foreach(t ${_fuzz_targets})
  add_executable(fuzz_replay_${t} ${COMPRESS_FUZZ_DIR}/fuzz_${t}.cpp $<TARGET_OBJECTS:compress_fuzz_replay_main>)
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

# Property tests over random shapes and seeds (test_properties_*.cpp) are part of their area's
# program: test_prune, test_quantize, test_io, test_linear, test_kernels_*.

# Thread safety: built here for `make test`, and with -fsanitize=thread by `make tsan`.
compress_add_test(test_threads ${CMAKE_CURRENT_LIST_DIR}/test_threads.cpp)
target_link_libraries(test_threads PRIVATE Threads::Threads)
