# Tests of quantize.hpp and core/half.hpp.
compress_add_test(test_half test_half.cpp)
compress_add_test(test_quantized_tensor test_quantized_tensor.cpp)
compress_add_test(test_quantize_golden test_quantize_golden.cpp)
compress_add_test(test_quantize test_quantize.cpp)
compress_add_test(test_quantize_formats test_quantize_formats.cpp)
compress_add_test(test_quantize_errors test_quantize_errors.cpp)
