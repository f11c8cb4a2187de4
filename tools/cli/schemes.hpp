#pragma once
// The names the `compress` tool accepts, as fixed tables. Each name maps onto one
// compile-time instantiated type in registry.hpp; nothing here is a runtime policy.

#include <string>
#include <vector>

namespace compress::cli {

struct quant_scheme_info {
    const char* name;
    const char* description;
};

/// --scheme values of `compress quantize`.
inline const std::vector<quant_scheme_info>& quant_schemes() {
    static const std::vector<quant_scheme_info> s = {
        {"int8-sym-channel", "int8, symmetric, one scale per output channel"},
        {"int8-affine-tensor", "int8, affine (zero point), one scale for the tensor"},
        {"int4-sym-g32", "int4, symmetric, one scale per 32 consecutive inputs of a row"},
        {"int2", "int2, symmetric, one scale per output channel"},
        {"ternary", "{-a, 0, +a} per output channel (TWN), 2 bits per weight"},
        {"binary", "{-a, +a} per output channel (XNOR-Net), 1 bit per weight"},
        {"fp16", "IEEE half precision (a cast)"},
        {"bf16", "bfloat16 (a cast)"},
        {"fp8", "fp8 e4m3fn, one scale per output channel"},
    };
    return s;
}

struct criterion_info {
    const char* name;
    bool seeded;  ///< takes --seed
    const char* description;
};

/// --criterion values of `compress prune`: the criteria that need nothing but the weights
/// (gradient and activation criteria need training data a weights file does not have).
inline const std::vector<criterion_info>& criteria() {
    static const std::vector<criterion_info> c = {
        {"magnitude", false, "prune the smallest |w|"},
        {"random", true, "prune uniformly at random (--seed)"},
    };
    return c;
}

struct grouping_info {
    const char* name;
    double fixed_amount;  ///< the sparsity the grouping implies (N:M), or -1
    bool global_ok;       ///< usable with --global
    const char* description;
};

/// --grouping values of `compress prune`.
inline const std::vector<grouping_info>& groupings() {
    static const std::vector<grouping_info> g = {
        {"unstructured", -1.0, true, "individual weights"},
        {"rows", -1.0, false, "whole output neurons / filters (L2 norm)"},
        {"columns", -1.0, false, "whole input features (L2 norm)"},
        {"2:4", 0.5, false, "keep 2 of every 4 consecutive inputs"},
        {"block4x4", -1.0, false, "4x4 blocks (L2 norm)"},
    };
    return g;
}

struct store_info {
    const char* name;
    const char* grouping;  ///< the grouping whose masks it stores, or "" for any
    const char* description;
};

/// --store values of `compress prune`: how a pruned 2-d weight is written. Weights of rank 3
/// and 4 are always stored masked (the sparse formats are matrices).
inline const std::vector<store_info>& stores() {
    static const std::vector<store_info> s = {
        {"auto", "", "the grouping's sparse format when it is smaller than masked, else masked"},
        {"masked", "", "dense values (pruned ones zero) + a 1-bit keep-mask"},
        {"csr", "", "compressed sparse rows: values, column indices, row pointers"},
        {"bsr4x4", "block4x4", "4x4 block sparse rows (needs --grouping block4x4)"},
        {"2:4", "2:4", "2 values + 2-bit positions per group of 4 (needs --grouping 2:4)"},
    };
    return s;
}

inline const quant_scheme_info* find_quant_scheme(const std::string& n) {
    for (const auto& s : quant_schemes()) if (n == s.name) return &s;
    return nullptr;
}
inline const criterion_info* find_criterion(const std::string& n) {
    for (const auto& s : criteria()) if (n == s.name) return &s;
    return nullptr;
}
inline const grouping_info* find_grouping(const std::string& n) {
    for (const auto& s : groupings()) if (n == s.name) return &s;
    return nullptr;
}

inline const store_info* find_store(const std::string& n) {
    for (const auto& s : stores()) if (n == s.name) return &s;
    return nullptr;
}
inline std::vector<std::string> store_names() {
    std::vector<std::string> v;
    for (const auto& s : stores()) v.push_back(s.name);
    return v;
}

inline std::vector<std::string> quant_scheme_names() {
    std::vector<std::string> v;
    for (const auto& s : quant_schemes()) v.push_back(s.name);
    return v;
}
inline std::vector<std::string> criterion_names() {
    std::vector<std::string> v;
    for (const auto& s : criteria()) v.push_back(s.name);
    return v;
}
inline std::vector<std::string> grouping_names() {
    std::vector<std::string> v;
    for (const auto& s : groupings()) v.push_back(s.name);
    return v;
}

}  // namespace compress::cli
