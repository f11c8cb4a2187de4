#pragma once
// Shared by the fuzz targets: what "no finding" means. A target may throw compress::error
// (a rejected input: the promised behaviour); anything else escaping — std::bad_alloc,
// std::length_error, std::out_of_range, a crash, a sanitizer report — is a finding.
// FUZZ_CHECK(cond) aborts when an invariant (e.g. a write/read round trip) fails.

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            std::abort();                                                                  \
        }                                                                                  \
    } while (0)
