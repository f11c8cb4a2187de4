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
#include "distill.hpp"
#include "regularize.hpp"
#include "fuse.hpp"
#include "cluster.hpp"
// lowrank.hpp is not included here: it needs LAPACKE. Include <compress/lowrank.hpp> and link
// compress::lowrank to use it.
