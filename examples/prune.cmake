# Pruning workflows of docs/prune.md (run as a test so the documented code keeps working).
add_executable(prune_workflow ${CMAKE_CURRENT_LIST_DIR}/prune_workflow.cpp)
target_link_libraries(prune_workflow PRIVATE compress_internal)
if(COMPRESS_BUILD_TESTS)
  add_test(NAME example:prune_workflow COMMAND prune_workflow)
  set_tests_properties(example:prune_workflow PROPERTIES TIMEOUT 300)
endif()
