#pragma once
// Quantization: number formats, mappings, granularities, observers, rounding, the
// quantizer, packed quantized tensors, QAT (fake quantization with a straight-through
// gradient), bias correction and error reports. See docs/quantize.md.

#include "core/half.hpp"
#include "quantize/policies.hpp"
#include "quantize/layout.hpp"
#include "quantize/quantized_tensor.hpp"
#include "quantize/qparams.hpp"
#include "quantize/kernels.hpp"
#include "quantize/observers.hpp"
#include "quantize/quantizer.hpp"
#include "quantize/analysis.hpp"
