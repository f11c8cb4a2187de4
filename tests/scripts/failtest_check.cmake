# Driver of the failtests (see compress_add_failtest in tests/CMakeLists.txt), run with cmake -P.
#
#   MODE=compile: run the compiler CXX with FLAGS and INCLUDES (|-separated lists) once over TU,
#     the generated TU that includes every failtest source, writing its output to LOG and its
#     exit code to LOG.rc. Fails only if the compiler could not be run at all.
#   MODE=check: SOURCE must NOT compile, with a diagnostic that matches REGEX and is attributed to
#     SOURCE. The compiler output of MODE=compile is cut into diagnostic blocks, each starting at a
#     line such as "file: In instantiation of ..." or "file: In function ...": a block names the
#     failtest source that required the instantiation ("SOURCE:line:col: required from here") or
#     that holds the error itself. The test passes when the compile failed and one block names
#     SOURCE and matches REGEX, so a misuse that stopped failing cannot pass on another source's
#     diagnostic, even when two failtests expect the same message.
cmake_minimum_required(VERSION 3.16)
if(MODE STREQUAL "compile")
  string(REPLACE "|" ";" flags "${FLAGS}")
  string(REPLACE "|" ";" includes "${INCLUDES}")
  list(TRANSFORM includes PREPEND "-I")
  execute_process(COMMAND "${CXX}" ${flags} ${includes} "${TU}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  file(WRITE "${LOG}" "${out}")
  file(WRITE "${LOG}.rc" "${rc}")
  if(NOT rc MATCHES "^[0-9]+$")
    message(FATAL_ERROR "could not run the compiler: ${rc}")
  endif()
  message(STATUS "compiler exit code ${rc}, ${LOG}")
elseif(MODE STREQUAL "check")
  if(NOT EXISTS "${LOG}.rc")
    message(FATAL_ERROR "no compiler output at ${LOG}: the test failtest:all:compile did not run")
  endif()
  file(READ "${LOG}.rc" rc)
  string(STRIP "${rc}" rc)
  if(rc STREQUAL "0")
    message(FATAL_ERROR "the failtest sources compiled, but ${SOURCE} must not")
  endif()
  file(READ "${LOG}" out)
  # one list element per line: ';' (as in "[with A = x; B = y]") and brackets (which would join
  # list elements) are kept aside while the lines are a CMake list
  string(REPLACE ";" "<semicolon>" out "${out}")
  string(REPLACE "[" "<lbracket>" out "${out}")
  string(REPLACE "]" "<rbracket>" out "${out}")
  string(REPLACE "\n" ";" lines "${out}")
  set(block "")
  set(found FALSE)
  # the extra item, shaped like a block start, closes the last block
  foreach(line IN LISTS lines ITEMS "<end>: In function <end>")
    if(line MATCHES ": (In (instantiation|substitution|function|member function|static member function|constructor|destructor|lambda function|copy constructor)|At global scope)")
      string(REPLACE "<semicolon>" ";" text "${block}")
      string(REPLACE "<lbracket>" "[" text "${text}")
      string(REPLACE "<rbracket>" "]" text "${text}")
      string(FIND "${text}" "${SOURCE}:" at)
      if(at GREATER -1 AND text MATCHES "${REGEX}")
        set(found TRUE)
        break()
      endif()
      set(block "")
    endif()
    string(APPEND block "${line}\n")
  endforeach()
  if(NOT found)
    message(FATAL_ERROR "no diagnostic of ${SOURCE} matches \"${REGEX}\" in ${LOG}")
  endif()
  message(STATUS "${SOURCE}: does not compile, as expected (\"${REGEX}\")")
else()
  message(FATAL_ERROR "MODE must be compile or check")
endif()
