# Failtests of the low-bit linear overloads (one per kind of scheme misuse).
compress_add_failtest(lowbit_prepack_int4 ${CMAKE_CURRENT_LIST_DIR}/lowbit_prepack_int4.cpp "prepack: W8A8 packing needs int8 or uint8")
compress_add_failtest(lowbit_weight_only_affine ${CMAKE_CURRENT_LIST_DIR}/lowbit_weight_only_affine.cpp "weight-only kernels take symmetric int8 or int4")
compress_add_failtest(lowbit_binarized_int8 ${CMAKE_CURRENT_LIST_DIR}/lowbit_binarized_int8.cpp "needs binary or ternary weights")
compress_add_failtest(lowbit_w8a8_int4 ${CMAKE_CURRENT_LIST_DIR}/lowbit_w8a8_int4.cpp "W8A8 needs int8 or uint8 weights with per_tensor or")
