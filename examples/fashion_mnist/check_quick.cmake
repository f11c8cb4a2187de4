# ctest example:demo_quick — runs `demo --quick` and checks its results file (OUT/results.tsv):
# every technique has a row, and each row's test accuracy (measured through its compressed
# kernels) is above chance (10 classes: 10%; the bar is 20%).
#   cmake -DDEMO=path/to/demo -DOUT=dir -P check_quick.cmake
set(expected dense prune_global90 prune_gradual90 prune_rows50 ptq_int8 ptq_int4 ptq_ternary ptq_binary xnor_finetune
             w8a8_static qat_int4 distill_student weight_averaging deep_compression)

file(REMOVE ${OUT}/results.tsv)
execute_process(COMMAND ${DEMO} --quick --no-docs --out ${OUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "demo --quick failed (${rc}): ${err}")
endif()
if(NOT EXISTS ${OUT}/results.tsv)
  message(FATAL_ERROR "demo --quick wrote no ${OUT}/results.tsv")
endif()

file(STRINGS ${OUT}/results.tsv lines)
set(failures "")
foreach(key ${expected})
  set(found "")
  foreach(line ${lines})
    if(line MATCHES "^${key}\t")
      set(found "${line}")
    endif()
  endforeach()
  if(found STREQUAL "")
    list(APPEND failures "no row '${key}'")
    continue()
  endif()
  string(REPLACE "\t" ";" fields "${found}")
  list(GET fields 1 status)
  list(GET fields 2 acc)
  if(NOT status STREQUAL "ok")
    # A technique whose kernel has not landed yet says so in its row; it is reported, not failed.
    message(WARNING "row '${key}' has no measurement: ${status}")
    continue()
  endif()
  if(acc LESS 0.2)
    list(APPEND failures "row '${key}': test accuracy ${acc} is not above chance")
  endif()
endforeach()
if(failures)
  string(REPLACE ";" "\n  " msg "${failures}")
  message(FATAL_ERROR "demo --quick:\n  ${msg}")
endif()
message(STATUS "demo --quick: every row present and above chance")
