#pragma once
// Umbrella header: every public header of the library.

#include "core/error.hpp"
#include "core/mask.hpp"
#include "prune.hpp"
#include "quantize.hpp"
#include "kernels/linear_lowbit.hpp"
#include "io.hpp"
#include "nn.hpp"
#include "sparse.hpp"
#include "linear.hpp"
