# Tests of quantize.hpp: one program, test_quantize, with the quantization property tests.
# (core/half.hpp is tested in test_core; the packing kernels in test_kernels_*, kernels.cmake.)
compress_add_test(test_quantize test_quantize.cpp test_quantized_tensor.cpp test_quantize_golden.cpp
                  test_quantize_formats.cpp test_quantize_errors.cpp test_quantize_observers.cpp
                  test_quantize_analysis.cpp test_properties_quantize.cpp)
