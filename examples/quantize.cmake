# Quantization examples: the format/error table of docs/quantize.md.
add_executable(quantize_table ${CMAKE_CURRENT_LIST_DIR}/quantize_table.cpp)
target_link_libraries(quantize_table PRIVATE compress_internal)
