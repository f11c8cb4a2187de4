#pragma once
// Pruning: criteria, groupings, pruner, global pruning, schedules, neuron removal.

#include "core/error.hpp"
#include "core/mask.hpp"
