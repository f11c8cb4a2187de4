# Tests of io.hpp (files) and the compress CLI (tools/).
compress_add_test(test_io_npy ${CMAKE_CURRENT_LIST_DIR}/test_io_npy.cpp)
compress_add_test(test_io_safetensors ${CMAKE_CURRENT_LIST_DIR}/test_io_safetensors.cpp)
compress_add_test(test_io_interop ${CMAKE_CURRENT_LIST_DIR}/test_io_interop.cpp)
compress_add_test(test_io_compressed ${CMAKE_CURRENT_LIST_DIR}/test_io_compressed.cpp)
