# Runs the installed-layout `compress` binary once and checks its exit code and output.
# -DCLI=path -DARGS="a|b|c" (arguments separated by |) -DEXPECT_CODE=n [-DEXPECT_OUT=regex] [-DEXPECT_ERR=regex]
string(REPLACE "|" ";" ARGS "${ARGS}")
execute_process(COMMAND ${CLI} ${ARGS} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT code STREQUAL EXPECT_CODE)
  message(FATAL_ERROR "compress ${ARGS}: exit code ${code}, expected ${EXPECT_CODE}\nstdout: ${out}\nstderr: ${err}")
endif()
if(DEFINED EXPECT_OUT AND NOT out MATCHES "${EXPECT_OUT}")
  message(FATAL_ERROR "compress ${ARGS}: stdout does not match '${EXPECT_OUT}':\n${out}")
endif()
if(DEFINED EXPECT_ERR AND NOT err MATCHES "${EXPECT_ERR}")
  message(FATAL_ERROR "compress ${ARGS}: stderr does not match '${EXPECT_ERR}':\n${err}")
endif()
