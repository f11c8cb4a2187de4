#pragma once
// Codecs of the sparse formats of sparse.hpp in compressed-model files (see compressed.hpp and
// docs/io.md): csr<T>, bsr<T,R,C> and n_of_m_matrix<T,N,M> stored as plain tensors.
//
//   csr      values [nnz] T, col_indices [nnz] U8/U16/U32, row_ptr [rows+1] U32
//   bsr      values [blocks, R, C] T, col_indices [blocks] U8/U16/U32 (block columns),
//            row_ptr [ceil(rows/R)+1] U32 (block rows); attributes block_rows=R, block_cols=C
//   n_of_m   values [rows, groups*N] T, indices [rows, words_per_row] U64 (the packed
//            in-group positions of n_of_m_matrix); attributes n=N, m=M
//
// Loading validates every array (pointers non-decreasing from 0 to the entry count, indices in
// range and strictly increasing, padding zero, unused bits zero) and throws format_error naming
// the tensor and the first violation; a loaded matrix equals the stored one exactly.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "../sparse.hpp"
#include "compressed.hpp"

namespace compress::detail {

template <class T>
io::tensor vector_tensor(const std::vector<T>& v, io::shape_type shape) {
    std::vector<std::uint8_t> b(v.size() * sizeof(T));
    for (std::size_t i = 0; i < v.size(); ++i) store_le<T>(b.data() + i * sizeof(T), v[i]);
    return io::tensor(io::dtype_of<T>, std::move(shape), std::move(b));
}

inline io::tensor narrow_tensor(const narrow_indices& idx) {
    return idx.visit([&](const auto* p) {
        using U = std::remove_const_t<std::remove_pointer_t<decltype(p)>>;
        return vector_tensor(std::vector<U>(p, p + idx.size()), {idx.size()});
    });
}

/// The entries of part `role`, which must be a 1-d unsigned array of `n` entries of at most 32 bits.
inline std::vector<std::uint32_t> index_part(const io::compressed_file& f, const io::compressed_entry& e,
                                             const std::string& role, std::size_t n) {
    auto it = e.parts.find(role);
    if (it == e.parts.end()) entry_fail(f.origin(), e.name, "missing part '" + role + "'");
    const io::tensor_view v = f.file().view(it->second);
    if (v.type() != io::dtype::u8 && v.type() != io::dtype::u16 && v.type() != io::dtype::u32) {
        entry_fail(f.origin(), e.name, "part '" + role + "' ('" + it->second + "') is " + io::dtype_name(v.type()) +
                                           ", expected U8, U16 or U32");
    }
    if (v.shape() != io::shape_type{n}) {
        entry_fail(f.origin(), e.name, "part '" + role + "' ('" + it->second + "') has shape " + shape_str(v.shape()) +
                                           ", expected " + shape_str(io::shape_type{n}));
    }
    std::vector<std::uint32_t> out(n);
    v.copy_to(out.data());
    return out;
}

template <class T>
std::vector<T> values_part(const io::compressed_file& f, const io::compressed_entry& e, const io::shape_type& shape) {
    const auto v = f.part(e, "values", io::dtype_of<T>, shape);
    std::vector<T> out(v.size());
    v.copy_to(out.data());
    return out;
}

/// Checks ptr: `n + 1` entries, ptr[0] == 0, non-decreasing; returns ptr[n] (the entry count).
inline std::size_t check_pointers(const io::compressed_file& f, const io::compressed_entry& e,
                                  const std::vector<std::uint32_t>& ptr, const char* what) {
    if (ptr.empty() || ptr[0] != 0) entry_fail(f.origin(), e.name, std::string(what) + "[0] must be 0");
    for (std::size_t r = 1; r < ptr.size(); ++r) {
        if (ptr[r] < ptr[r - 1]) {
            entry_fail(f.origin(), e.name, std::string(what) + " decreases at " + std::to_string(r - 1) + " (" +
                                               std::to_string(ptr[r - 1]) + " then " + std::to_string(ptr[r]) + ")");
        }
    }
    return ptr.back();
}

inline std::size_t attribute_size(const io::compressed_file& f, const io::compressed_entry& e, const std::string& key) {
    const std::string v = e.attribute(key);
    std::size_t out = 0;
    bool ok = !v.empty() && v.size() <= 9;
    for (char c : v) ok = ok && c >= '0' && c <= '9';
    if (ok) out = std::stoul(v);
    if (!ok) entry_fail(f.origin(), e.name, "attribute '" + key + "' must be a decimal integer, got '" + v + "'");
    return out;
}

// ---------------------------------------------------------------- csr
template <class T>
struct codec<csr<T>> {
    static void store(io::compressed_model& m, const std::string& name, const csr<T>& s) {
        m.add_part(name, "values", name + ".values", vector_tensor(s.values(), {s.nnz()}));
        m.add_part(name, "col_indices", name + ".col_indices", narrow_tensor(s.col_indices()));
        m.add_part(name, "row_ptr", name + ".row_ptr", vector_tensor(s.row_ptr(), {s.rows() + 1}));
        auto& e = m.entry(name);
        e.representation = "csr";
        e.original_dtype = io::dtype_of<T>;
        e.shape = {s.rows(), s.cols()};
        e.attributes.clear();
    }
    static csr<T> load(const io::compressed_file& f, const io::compressed_entry& e) {
        expect_representation(f, e, "csr", "csr");
        const auto shape = shape_array<2>(f, e);
        if (e.original_dtype != io::dtype_of<T>) {
            entry_fail(f.origin(), e.name, std::string("holds ") + io::dtype_name(e.original_dtype) + " values, asked for " +
                                               io::dtype_name(io::dtype_of<T>));
        }
        const auto row_ptr = index_part(f, e, "row_ptr", shape[0] + 1);
        const std::size_t nnz = check_pointers(f, e, row_ptr, "row_ptr");
        if (nnz > shape[0] * shape[1]) {
            entry_fail(f.origin(), e.name, "row_ptr declares " + std::to_string(nnz) + " entries, more than the " +
                                               std::to_string(shape[0] * shape[1]) + " weights of the matrix");
        }
        auto cols = index_part(f, e, "col_indices", nnz);
        auto values = values_part<T>(f, e, {nnz});
        try {
            return csr<T>::from_parts(shape[0], shape[1], row_ptr, cols, std::move(values));
        } catch (const format_error& err) {
            entry_fail(f.origin(), e.name, err.what());
        }
    }
};

// ---------------------------------------------------------------- bsr
template <class T, std::size_t R, std::size_t C>
struct codec<bsr<T, R, C>> {
    using B = bsr<T, R, C>;
    static std::map<std::string, std::string> attributes() {
        return {{"block_rows", std::to_string(R)}, {"block_cols", std::to_string(C)}};
    }
    static void store(io::compressed_model& m, const std::string& name, const B& s) {
        m.add_part(name, "values", name + ".values", vector_tensor(s.values(), {s.nnz_blocks(), R, C}));
        m.add_part(name, "col_indices", name + ".col_indices", narrow_tensor(s.block_col_indices()));
        m.add_part(name, "row_ptr", name + ".row_ptr", vector_tensor(s.block_ptr(), {s.block_rows() + 1}));
        auto& e = m.entry(name);
        e.representation = "bsr";
        e.original_dtype = io::dtype_of<T>;
        e.shape = {s.rows(), s.cols()};
        e.attributes = attributes();
    }
    static B load(const io::compressed_file& f, const io::compressed_entry& e) {
        const std::string wanted = "bsr block_rows=" + std::to_string(R) + " block_cols=" + std::to_string(C);
        expect_representation(f, e, "bsr", wanted);
        if (e.attributes != attributes()) entry_fail(f.origin(), e.name, "stored as " + scheme_of(e) + ", asked for " + wanted);
        const auto shape = shape_array<2>(f, e);
        if (e.original_dtype != io::dtype_of<T>) {
            entry_fail(f.origin(), e.name, std::string("holds ") + io::dtype_name(e.original_dtype) + " values, asked for " +
                                               io::dtype_name(io::dtype_of<T>));
        }
        const std::size_t rows = shape[0], cols = shape[1];
        const std::size_t brs = (rows + R - 1) / R, bcs = (cols + C - 1) / C;
        const auto ptr = index_part(f, e, "row_ptr", brs + 1);
        const std::size_t blocks = check_pointers(f, e, ptr, "row_ptr");
        if (blocks > brs * bcs) {
            entry_fail(f.origin(), e.name, "row_ptr declares " + std::to_string(blocks) + " blocks, more than the " +
                                               std::to_string(brs * bcs) + " of the block grid");
        }
        const auto bcol = index_part(f, e, "col_indices", blocks);
        auto values = values_part<T>(f, e, {blocks, R, C});
        try {
            return B::from_parts(rows, cols, ptr, bcol, std::move(values));
        } catch (const format_error& err) {
            entry_fail(f.origin(), e.name, err.what());
        }
    }
};

// ---------------------------------------------------------------- n_of_m
template <class T, std::size_t N, std::size_t M>
struct codec<n_of_m_matrix<T, N, M>> {
    using S = n_of_m_matrix<T, N, M>;
    static constexpr std::size_t bits = S::index_bits;
    static std::map<std::string, std::string> attributes() { return {{"n", std::to_string(N)}, {"m", std::to_string(M)}}; }
    static std::size_t words_per_row(std::size_t cols) { return (((cols + M - 1) / M) * N * bits + 63) / 64; }

    static void store(io::compressed_model& m, const std::string& name, const S& s) {
        m.add_part(name, "values", name + ".values", vector_tensor(s.values(), {s.rows(), s.groups() * N}));
        m.add_part(name, "indices", name + ".indices", vector_tensor(s.codes(), {s.rows(), s.words_per_row()}));
        auto& e = m.entry(name);
        e.representation = "n_of_m";
        e.original_dtype = io::dtype_of<T>;
        e.shape = {s.rows(), s.cols()};
        e.attributes = attributes();
    }
    static S load(const io::compressed_file& f, const io::compressed_entry& e) {
        const std::string wanted = "n_of_m m=" + std::to_string(M) + " n=" + std::to_string(N);
        expect_representation(f, e, "n_of_m", wanted);
        if (e.attributes != attributes()) entry_fail(f.origin(), e.name, "stored as " + scheme_of(e) + ", asked for " + wanted);
        const auto shape = shape_array<2>(f, e);
        if (e.original_dtype != io::dtype_of<T>) {
            entry_fail(f.origin(), e.name, std::string("holds ") + io::dtype_name(e.original_dtype) + " values, asked for " +
                                               io::dtype_name(io::dtype_of<T>));
        }
        const std::size_t rows = shape[0], cols = shape[1], G = (cols + M - 1) / M, wpr = words_per_row(cols);
        auto values = values_part<T>(f, e, {rows, G * N});
        const auto iv = f.part(e, "indices", io::dtype::u64, {rows, wpr});
        std::vector<std::uint64_t> words(iv.size());
        iv.copy_to(words.data());
        try {
            return S::from_parts(rows, cols, std::move(values), std::move(words));
        } catch (const format_error& err) {
            entry_fail(f.origin(), e.name, err.what());
        }
    }
};

}  // namespace compress::detail
