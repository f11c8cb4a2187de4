#pragma once
// Pruning: criteria x groupings as types, compute_mask / prune / pruner, global pruning,
// schedules, dynamic (grow-back) pruning, sparsity reports and physical neuron removal.
// See docs/prune.md.

#include "core/error.hpp"
#include "core/mask.hpp"
#include "prune/activation.hpp"
#include "prune/compute.hpp"
#include "prune/global.hpp"
#include "prune/policies.hpp"
#include "prune/remove.hpp"
#include "prune/report.hpp"
#include "prune/schedule.hpp"
