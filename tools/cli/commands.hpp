#pragma once
#ifndef COMPRESS_CLI_IMPLEMENTATION
#error "an implementation header of the compress tool: include cli/api.hpp and link compress_cli_lib"
#endif
// The commands of the `compress` tool and `run`, which maps every failure onto an exit code
// and a message. Output goes to the given streams, so tests run the tool in-process.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iomanip>
#include <limits>
#include <optional>
#include <ostream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <compress/io.hpp>

#include "api.hpp"
#include "args.hpp"
#include "registry.hpp"
#include "schemes.hpp"
#include "stream.hpp"

namespace compress::cli {

inline const char* version_string() { return "compress 0.1.0 (compressed-model format version 1)"; }

/// A progress bar on the terminal: one line rewritten in place, cleared when done.
class progress_bar {
public:
    progress_bar(console& c, const options& o, std::size_t total)
        : c_(c), total_(total),
          on_(o.progress == progress_mode::always ||
              (o.progress == progress_mode::automatic && c.err_is_terminal && !o.json)) {}
    ~progress_bar() { finish(); }

    void step(std::size_t done, const std::string& label) {
        if (!on_ || total_ == 0) return;
        const std::size_t width = 30;
        const std::size_t fill = done * width / total_;
        std::string line = "\r[" + std::string(fill, '#') + std::string(width - fill, '.') + "] " + std::to_string(done) +
                           "/" + std::to_string(total_) + " " + label.substr(0, 40);
        c_.err << line << std::string(line.size() < last_ ? last_ - line.size() : 0, ' ') << std::flush;
        last_ = line.size();
    }
    void finish() {
        if (on_ && last_) c_.err << "\r" << std::string(last_, ' ') << "\r" << std::flush;
        last_ = 0;
    }

private:
    console& c_;
    std::size_t total_;
    bool on_;
    std::size_t last_ = 0;
};

namespace detail {

namespace json = compress::detail::json;

inline std::string human_bytes(double b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024.0 && u < 4) {
        b /= 1024.0;
        ++u;
    }
    std::ostringstream os;
    if (u == 0) os << static_cast<std::uint64_t>(b) << " B";
    else os << std::fixed << std::setprecision(1) << b << ' ' << units[u];
    return os.str();
}

inline std::string fixed(double v, int digits) {
    if (std::isnan(v)) return "-";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    std::ostringstream os;
    os << std::fixed << std::setprecision(digits) << v;
    return os.str();
}

inline std::string sci(double v) {
    if (std::isnan(v)) return "-";
    std::ostringstream os;
    os << std::scientific << std::setprecision(3) << v;
    return os.str();
}

/// Left-aligned text table with a header row.
inline void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
    if (rows.empty()) return;
    std::vector<std::size_t> w(rows[0].size(), 0);
    for (const auto& r : rows) {
        for (std::size_t k = 0; k < r.size(); ++k) w[k] = std::max(w[k], r[k].size());
    }
    for (const auto& r : rows) {
        std::string line;
        for (std::size_t k = 0; k < r.size(); ++k) {
            line += r[k];
            if (k + 1 < r.size()) line += std::string(w[k] - r[k].size() + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out << line << '\n';
    }
}

inline json::value shape_json(const io::shape_type& s) {
    json::value a = json::make_array();
    for (auto d : s) a.items.push_back(json::make_uint(d));
    return a;
}

inline json::value string_map_json(const std::map<std::string, std::string>& m) {
    json::value o = json::make_object();
    for (const auto& [k, v] : m) o.members.emplace_back(k, json::make_string(v));
    return o;
}

inline std::size_t stored_bytes(const io::compressed_file& f, const io::compressed_entry& e) {
    std::size_t b = 0;
    for (const auto& [role, part] : e.parts) b += f.file().info(part).nbytes();
    return b;
}

inline std::size_t dense_bytes(const io::compressed_entry& e) { return e.size() * io::dtype_size(e.original_dtype); }

inline std::size_t popcount64(std::uint64_t x) {
    std::size_t n = 0;
    while (x) {
        x &= x - 1;
        ++n;
    }
    return n;
}

/// Fraction of zero weights of an entry, when the tool can tell.
inline std::optional<double> sparsity_of(const io::compressed_file& f, const io::compressed_entry& e) {
    if (e.size() == 0) return 0.0;
    if (e.representation == "masked") {
        const auto words = f.file().view(e.parts.at("mask"));
        std::size_t kept = 0;
        for (std::size_t i = 0; i < words.size(); ++i) kept += popcount64(compress::detail::load_le<std::uint64_t>(words.data() + 8 * i));
        return 1.0 - static_cast<double>(std::min(kept, e.size())) / static_cast<double>(e.size());
    }
    if (e.representation == "dense") {
        const auto v = f.file().view(e.parts.at("values"));
        const std::size_t es = io::dtype_size(v.type());
        std::size_t zeros = 0;
        for (std::size_t i = 0; i < v.size(); ++i) zeros += compress::detail::element_as_double(v.type(), v.data() + i * es) == 0.0;
        return static_cast<double>(zeros) / static_cast<double>(v.size());
    }
    if (decodable(e)) {
        const auto d = decode_entry(f, e);
        std::size_t zeros = 0;
        for (float x : d) zeros += x == 0.0f;
        return static_cast<double>(zeros) / static_cast<double>(d.size());
    }
    return std::nullopt;
}

inline std::string scheme_text(const io::compressed_entry& e) {
    if (e.representation == "dense") return "";
    const std::string reg = scheme_name_of(e);
    std::string s;
    for (const auto& [k, v] : e.attributes) s += (s.empty() ? "" : " ") + k + "=" + v;
    return reg.empty() ? s : reg + " (" + s + ")";
}

// ------------------------------------------------------------------ inspect
inline int cmd_inspect(const options& o, console& c) {
    const auto f = io::load_compressed(o.positional[0]);
    std::size_t params = 0, bytes = 0, dense = 0;
    std::vector<std::vector<std::string>> rows = {{"name", "representation", "dtype", "shape", "sparsity", "bytes", "scheme"}};
    json::value tensors = json::make_array();
    std::vector<const io::compressed_entry*> entries;
    for (const auto& e : f.entries()) entries.push_back(&e);
    std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->name < b->name; });
    progress_bar bar(c, o, entries.size());
    std::size_t done = 0;
    for (const auto* e : entries) {
        bar.step(done++, e->name);
        const auto sp = sparsity_of(f, *e);
        const std::size_t b = stored_bytes(f, *e);
        params += e->size();
        bytes += b;
        dense += dense_bytes(*e);
        rows.push_back({e->name, e->representation, io::dtype_name(e->original_dtype), compress::detail::shape_str(e->shape),
                        sp ? fixed(100.0 * *sp, 1) + "%" : "-", std::to_string(b), scheme_text(*e)});
        json::value t = json::make_object();
        t.members.emplace_back("name", json::make_string(e->name));
        t.members.emplace_back("representation", json::make_string(e->representation));
        t.members.emplace_back("dtype", json::make_string(io::dtype_name(e->original_dtype)));
        t.members.emplace_back("shape", shape_json(e->shape));
        t.members.emplace_back("parameters", json::make_uint(e->size()));
        t.members.emplace_back("bytes", json::make_uint(b));
        t.members.emplace_back("dense_bytes", json::make_uint(dense_bytes(*e)));
        t.members.emplace_back("sparsity", sp ? json::make_double(*sp) : json::value{});
        const std::string reg = e->representation == "quantized" ? scheme_name_of(*e) : std::string();
        t.members.emplace_back("scheme", reg.empty() ? json::value{} : json::make_string(reg));
        t.members.emplace_back("attributes", string_map_json(e->attributes));
        json::value parts = json::make_object();
        for (const auto& [role, part] : e->parts) parts.members.emplace_back(role, json::make_string(part));
        t.members.emplace_back("parts", parts);
        tensors.items.push_back(t);
    }
    bar.finish();
    if (o.json) {
        json::value r = json::make_object();
        r.members.emplace_back("file", json::make_string(o.positional[0]));
        r.members.emplace_back("file_bytes", json::make_uint(f.file().file_size()));
        r.members.emplace_back("compressed_model", json::make_bool(!f.plain()));
        r.members.emplace_back("metadata", string_map_json(f.user_metadata()));
        r.members.emplace_back("tensors", tensors);
        json::value tot = json::make_object();
        tot.members.emplace_back("tensors", json::make_uint(entries.size()));
        tot.members.emplace_back("parameters", json::make_uint(params));
        tot.members.emplace_back("bytes", json::make_uint(bytes));
        tot.members.emplace_back("dense_bytes", json::make_uint(dense));
        r.members.emplace_back("totals", tot);
        c.out << json::dump(r) << '\n';
        return exit_ok;
    }
    c.out << o.positional[0] << ": " << (f.plain() ? "safetensors" : "compressed model (format version 1)") << ", "
          << entries.size() << " tensor" << (entries.size() == 1 ? "" : "s") << ", " << params << " parameters, "
          << human_bytes(static_cast<double>(bytes)) << " of tensor data (" << human_bytes(static_cast<double>(dense))
          << " dense), file " << human_bytes(static_cast<double>(f.file().file_size())) << '\n';
    const auto md = f.user_metadata();
    if (!md.empty()) {
        c.out << "metadata:";
        for (const auto& [k, v] : md) c.out << ' ' << k << '=' << (v.size() > 60 ? v.substr(0, 57) + "..." : v);
        c.out << '\n';
    }
    c.out << '\n';
    print_table(c.out, rows);
    return exit_ok;
}

// ------------------------------------------------------------------ quantize
/// What compressing one tensor did.
struct tensor_result {
    std::size_t bytes_before = 0;  ///< the dense tensor's bytes
    std::size_t bytes_after = 0;   ///< the bytes of its parts in the output
    double sparsity = 0.0;         ///< fraction of pruned weights (prune only)
};

inline std::size_t entry_bytes(const io::compressed_model& m, const std::string& name) {
    std::size_t b = 0;
    for (const auto& [role, part] : m.entries().at(name).parts) b += m.parts().at(part).nbytes();
    return b;
}

/// Quantizes one dense tensor `w` into `out` with a registered scheme. One tensor at a time,
/// independent of every other: a streaming writer calls it tensor by tensor.
inline tensor_result quantize_tensor(const quant_entry& scheme, const io::tensor_view& w, io::compressed_model& out) {
    scheme.quantize(out, w);
    return {w.nbytes(), entry_bytes(out, w.name()), 0.0};
}

/// Prunes one dense tensor `w` into `out` as `o` says (criterion, grouping, amount, seed,
/// store; not --global, which ranks tensors together). Streaming writers call it per tensor.
inline tensor_result prune_tensor(const options& o, const io::tensor_view& w, io::compressed_model& out) {
    const double sp = prune_scheme(o.criterion, o.grouping).prune(out, w, *o.amount, o.seed, o.store);
    return {w.nbytes(), entry_bytes(out, w.name()), sp};
}

/// The tensors a command compresses: dense floating-point entries of rank 2 to 4 whose name
/// matches --only. Throws usage_error when there is none.
inline std::vector<const io::compressed_entry*> select_tensors(const io::compressed_file& in, const options& o,
                                                               const char* verb) {
    std::optional<std::regex> only;
    if (o.only) only.emplace(*o.only, std::regex::ECMAScript);
    std::vector<const io::compressed_entry*> todo;
    for (const auto& e : in.entries()) {
        const bool candidate = e.representation == "dense" && io::is_floating(e.original_dtype) &&
                               e.shape.size() >= min_weight_rank && e.shape.size() <= max_weight_rank;
        if (candidate && (!only || std::regex_search(e.name, *only))) todo.push_back(&e);
    }
    if (todo.empty()) {
        throw usage_error(std::string("no tensor to ") + verb + " in '" + o.positional[0] + "': the tool " + verb +
                          "s dense floating-point tensors of rank " + std::to_string(min_weight_rank) + " to " +
                          std::to_string(max_weight_rank) +
                          (o.only ? " whose name matches --only '" + *o.only + "'" : std::string()));
    }
    return todo;
}

/// True when quantizing rank-2 weight `e` with `scheme` works row by row (one scale per output
/// channel, or per group of 32 inputs that do not cross rows), so stream_compress may cut it
/// into blocks of rows. Per-tensor schemes (one scale or a cast for the tensor) are not.
inline bool quant_row_local(const std::string& scheme, const io::compressed_entry& e) {
    if (e.shape.size() != 2) return false;
    if (scheme == "int4-sym-g32") return e.shape[1] % 32 == 0;
    return scheme == "int8-sym-channel" || scheme == "int2" || scheme == "ternary" || scheme == "binary" ||
           scheme == "fp8";
}

/// True when pruning rank-2 weight `e` as `o` says works row by row: magnitude N:M (2:4) with
/// whole groups in every row. Every other criterion/grouping ranks the whole tensor (or draws
/// from one random stream for it) and is compressed whole.
inline bool prune_row_local(const options& o, const io::compressed_entry& e) {
    return !o.global && o.criterion == "magnitude" && o.grouping == "2:4" && e.shape.size() == 2 && e.shape[1] > 0 &&
           e.shape[1] % 4 == 0;
}

/// The store a whole [rows, cols] 2:4 tensor gets: --store auto decides by the bytes of the whole
/// tensor (registry.hpp store_matrix: the 2:4 format unless it is not smaller than masked), so a
/// tensor written in blocks of rows is given the concrete store up front, never a per-block choice.
inline std::string store_for_rows(const options& o, const io::compressed_entry& e) {
    if (o.store != "auto") return o.store;
    using S = n_of_m_matrix<float, 2, 4>;
    const std::size_t rows = e.shape[0], cols = e.shape[1];
    const std::size_t groups = (cols + 3) / 4, words = (groups * 2 * S::index_bits + 63) / 64;
    const std::size_t sparse = rows * groups * 2 * sizeof(float) + rows * words * sizeof(std::uint64_t);
    return sparse >= masked_bytes(rows * cols) ? "masked" : "2:4";
}

inline std::function<void(std::size_t, const std::string&)> stepper(progress_bar& bar) {
    return [&bar](std::size_t d, const std::string& l) { bar.step(d, l); };
}

inline int cmd_quantize(const options& o, console& c) {
    const auto& scheme = quant_scheme(o.scheme);
    // streamed (stream.hpp): tensor by tensor from the mapped input, row-local schemes on big
    // rank-2 weights in blocks of rows on two threads, the output written as it goes
    const auto in = io::load_compressed(o.positional[0], io::map_mode::always);
    const auto todo = select_tensors(in, o, "quantize");
    progress_bar bar(c, o, todo.size());
    const auto r = stream_compress(
        in, todo,
        [&](io::compressed_model& m, const io::tensor_view& v) {
            quantize_tensor(scheme, v, m);
            return 0.0;
        },
        [&](const io::compressed_entry& e) { return quant_row_local(o.scheme, e); }, o.positional[1], in.user_metadata(),
        true, stepper(bar));
    std::size_t before = 0, after_selected = 0;
    json::value list = json::make_array();
    for (const auto* e : todo) {
        before += dense_bytes(*e);
        after_selected += r.bytes.at(e->name);
        list.items.push_back(json::make_string(e->name));
    }
    bar.finish();
    if (o.json) {
        json::value r = json::make_object();
        r.members.emplace_back("output", json::make_string(o.positional[1]));
        r.members.emplace_back("scheme", json::make_string(o.scheme));
        r.members.emplace_back("quantized", list);
        r.members.emplace_back("bytes_before", json::make_uint(before));
        r.members.emplace_back("bytes_after", json::make_uint(after_selected));
        c.out << json::dump(r) << '\n';
    } else {
        c.out << "quantized " << todo.size() << " tensor" << (todo.size() == 1 ? "" : "s") << " with " << o.scheme << ": "
              << human_bytes(static_cast<double>(before)) << " -> " << human_bytes(static_cast<double>(after_selected)) << " ("
              << fixed(after_selected ? static_cast<double>(before) / static_cast<double>(after_selected) : 0.0, 2)
              << "x); wrote " << o.positional[1] << '\n';
    }
    return exit_ok;
}

// ------------------------------------------------------------------ prune
inline int cmd_prune(const options& o, console& c) {
    const auto in = io::load_compressed(o.positional[0], o.global ? io::map_mode::automatic : io::map_mode::always);
    const auto todo = select_tensors(in, o, "prune");
    const double a = *o.amount;
    progress_bar bar(c, o, todo.size());
    std::map<std::string, double> sparsity;
    std::map<std::string, std::string> representation;
    std::map<std::string, std::size_t> stored;
    if (o.global) {
        // in memory: --global ranks the weights of every selected tensor together
        check_output_path(o.positional[1]);
        io::compressed_model m;
        std::vector<io::tensor_view> views;
        for (const auto* e : todo) views.push_back(in.file().view(e->parts.at("values")));
        bar.step(0, "ranking " + std::to_string(views.size()) + " tensors together");
        const auto sp = prune_global_scheme(o.criterion).prune(m, views, a, o.seed, o.store);
        for (std::size_t j = 0; j < todo.size(); ++j) sparsity[todo[j]->name] = sp[j];
        for (const auto& e : in.entries()) {
            if (std::find(todo.begin(), todo.end(), &e) == todo.end()) m.copy_entry(in, e);
        }
        bar.step(todo.size(), "writing " + o.positional[1]);
        io::save_compressed(o.positional[1], m, in.user_metadata());
        for (const auto* e : todo) {
            representation[e->name] = m.entries().at(e->name).representation;
            stored[e->name] = entry_bytes(m, e->name);
        }
    } else {
        // streamed (stream.hpp): magnitude 2:4 on big rank-2 weights in blocks of rows on two
        // threads (with the whole tensor's store), every other tensor whole, one at a time
        std::map<std::string, options> per_tensor;
        for (const auto* e : todo) {
            options t = o;
            if (prune_row_local(o, *e)) t.store = store_for_rows(o, *e);
            per_tensor.emplace(e->name, std::move(t));
        }
        const auto r = stream_compress(
            in, todo,
            [&](io::compressed_model& m, const io::tensor_view& v) { return prune_tensor(per_tensor.at(v.name()), v, m).sparsity; },
            [&](const io::compressed_entry& e) { return prune_row_local(o, e); }, o.positional[1], in.user_metadata(), true,
            stepper(bar));
        sparsity = r.sparsity;
        stored = r.bytes;
        for (const auto& [name, e] : r.entries) representation[name] = e.representation;
    }
    bar.finish();
    std::size_t total = 0, zeros = 0, before = 0, after = 0;
    json::value list = json::make_array();
    for (const auto* e : todo) {
        const double sp = sparsity.at(e->name);
        total += e->size();
        zeros += static_cast<std::size_t>(std::llround(sp * static_cast<double>(e->size())));
        before += dense_bytes(*e);
        after += stored.at(e->name);
        json::value t = json::make_object();
        t.members.emplace_back("name", json::make_string(e->name));
        t.members.emplace_back("sparsity", json::make_double(sp));
        t.members.emplace_back("representation", json::make_string(representation.at(e->name)));
        t.members.emplace_back("bytes_before", json::make_uint(dense_bytes(*e)));
        t.members.emplace_back("bytes_after", json::make_uint(stored.at(e->name)));
        list.items.push_back(t);
    }
    const double overall = total ? static_cast<double>(zeros) / static_cast<double>(total) : 0.0;
    if (o.json) {
        json::value r = json::make_object();
        r.members.emplace_back("output", json::make_string(o.positional[1]));
        r.members.emplace_back("criterion", json::make_string(o.criterion));
        r.members.emplace_back("grouping", json::make_string(o.global ? "unstructured (global)" : o.grouping));
        r.members.emplace_back("amount", json::make_double(a));
        r.members.emplace_back("pruned", list);
        r.members.emplace_back("store", json::make_string(o.store));
        r.members.emplace_back("sparsity", json::make_double(overall));
        r.members.emplace_back("bytes_before", json::make_uint(before));
        r.members.emplace_back("bytes_after", json::make_uint(after));
        c.out << json::dump(r) << '\n';
    } else {
        c.out << "pruned " << todo.size() << " tensor" << (todo.size() == 1 ? "" : "s") << " (" << o.criterion << ", "
              << (o.global ? "unstructured, global" : o.grouping) << ", amount " << fixed(a, 4) << "): sparsity "
              << fixed(100.0 * overall, 2) << "%, " << human_bytes(static_cast<double>(before)) << " -> "
              << human_bytes(static_cast<double>(after)) << " stored " << o.store << "; wrote " << o.positional[1] << '\n';
    }
    return exit_ok;
}

// ------------------------------------------------------------------ report
struct error_stats {
    double mse = 0.0, sqnr_db = 0.0, max_abs = 0.0;
};

inline error_stats compare(const xt::xarray<float>& a, const xt::xarray<float>& b) {
    double signal = 0.0, noise = 0.0, mx = 0.0;
    auto ia = a.begin();
    for (auto ib = b.begin(); ib != b.end(); ++ia, ++ib) {
        const double x = *ia, d = static_cast<double>(*ia) - static_cast<double>(*ib);
        signal += x * x;
        noise += d * d;
        mx = std::max(mx, std::abs(d));
    }
    error_stats s;
    s.mse = a.size() ? noise / static_cast<double>(a.size()) : 0.0;
    s.max_abs = mx;
    s.sqnr_db = noise == 0.0 ? std::numeric_limits<double>::infinity()
                             : (signal == 0.0 ? -std::numeric_limits<double>::infinity() : 10.0 * std::log10(signal / noise));
    return s;
}

inline int cmd_report(const options& o, console& c) {
    const auto orig = io::load_compressed(o.positional[0]);
    const auto comp = io::load_compressed(o.positional[1]);
    std::vector<const io::compressed_entry*> entries;
    for (const auto& e : comp.entries()) entries.push_back(&e);
    std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->name < b->name; });
    std::vector<std::vector<std::string>> rows = {{"name", "representation", "scheme", "MSE", "SQNR dB", "max |err|",
                                                   "bytes before", "bytes after", "ratio", "kernel vs dense (batch " +
                                                                                              std::to_string(o.batch) + ")"}};
    json::value list = json::make_array();
    std::size_t tb = 0, ta = 0;
    double tsignal = 0.0, tnoise = 0.0;
    progress_bar bar(c, o, entries.size());
    std::size_t done = 0;
    for (const auto* e : entries) {
        bar.step(done++, e->name);
        if (!orig.contains(e->name)) {
            throw value_error("tensor '" + e->name + "' of '" + o.positional[1] + "' is not in '" + o.positional[0] + "'");
        }
        const auto& oe = orig.entry(e->name);
        if (oe.shape != e->shape) {
            throw value_error("tensor '" + e->name + "' has shape " + compress::detail::shape_str(oe.shape) + " in '" +
                              o.positional[0] + "' but " + compress::detail::shape_str(e->shape) + " in '" + o.positional[1] + "'");
        }
        const auto a = decode_entry(orig, oe);
        const auto b = decode_entry(comp, *e);
        const auto s = compare(a, b);
        for (float x : a) tsignal += static_cast<double>(x) * x;
        tnoise += s.mse * static_cast<double>(a.size());
        const std::size_t before = stored_bytes(orig, oe), after = stored_bytes(comp, *e);
        tb += before;
        ta += after;
        const double ratio = after ? static_cast<double>(before) / static_cast<double>(after) : 0.0;
        std::string scheme = e->representation == "quantized" ? scheme_name_of(*e) : std::string();
        const auto v = verdict_of(comp, *e, o.batch);
        const std::string vtext = v.speedup ? v.kernel + " " + fixed(*v.speedup, 2) + "x " + (*v.speedup > 1.0 ? "faster" : "slower")
                                            : v.note;
        rows.push_back({e->name, e->representation, scheme.empty() ? "-" : scheme, sci(s.mse), fixed(s.sqnr_db, 2),
                        sci(s.max_abs), std::to_string(before), std::to_string(after), fixed(ratio, 2), vtext});
        json::value t = json::make_object();
        t.members.emplace_back("name", json::make_string(e->name));
        t.members.emplace_back("representation", json::make_string(e->representation));
        t.members.emplace_back("scheme", scheme.empty() ? json::value{} : json::make_string(scheme));
        t.members.emplace_back("mse", json::make_double(s.mse));
        t.members.emplace_back("sqnr_db", json::make_double(s.sqnr_db));  // null when exact (infinite)
        t.members.emplace_back("max_abs_error", json::make_double(s.max_abs));
        t.members.emplace_back("bytes_before", json::make_uint(before));
        t.members.emplace_back("bytes_after", json::make_uint(after));
        t.members.emplace_back("ratio", json::make_double(ratio));
        t.members.emplace_back("kernel", json::make_string(v.kernel));
        t.members.emplace_back("expected_speedup", v.speedup ? json::make_double(*v.speedup) : json::value{});
        t.members.emplace_back("expected_faster", v.speedup ? json::make_bool(*v.speedup > 1.0) : json::value{});
        t.members.emplace_back("cost_model_note", json::make_string(v.note));
        list.items.push_back(t);
    }
    bar.finish();
    std::vector<std::string> missing;
    for (const auto& e : orig.entries()) {
        if (!comp.contains(e.name)) missing.push_back(e.name);
    }
    const double total_sqnr = tnoise == 0.0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(tsignal / tnoise);
    const double total_ratio = ta ? static_cast<double>(tb) / static_cast<double>(ta) : 0.0;
    if (o.json) {
        json::value r = json::make_object();
        r.members.emplace_back("original", json::make_string(o.positional[0]));
        r.members.emplace_back("compressed", json::make_string(o.positional[1]));
        r.members.emplace_back("batch", json::make_uint(o.batch));
        r.members.emplace_back("cost_model", json::make_bool(true));
        r.members.emplace_back("tensors", list);
        json::value tot = json::make_object();
        tot.members.emplace_back("bytes_before", json::make_uint(tb));
        tot.members.emplace_back("bytes_after", json::make_uint(ta));
        tot.members.emplace_back("ratio", json::make_double(total_ratio));
        tot.members.emplace_back("sqnr_db", json::make_double(total_sqnr));
        r.members.emplace_back("totals", tot);
        json::value miss = json::make_array();
        for (const auto& n : missing) miss.items.push_back(json::make_string(n));
        r.members.emplace_back("missing", miss);
        c.out << json::dump(r) << '\n';
        return exit_ok;
    }
    print_table(c.out, rows);
    c.out << "\ntotal: " << human_bytes(static_cast<double>(tb)) << " -> " << human_bytes(static_cast<double>(ta)) << " ("
          << fixed(total_ratio, 2) << "x), SQNR " << fixed(total_sqnr, 2) << " dB\n";
    if (!missing.empty()) {
        c.out << "not in " << o.positional[1] << ":";
        for (const auto& n : missing) c.out << ' ' << n;
        c.out << '\n';
    }
    return exit_ok;
}

// ------------------------------------------------------------------ help
inline void print_help(const std::string& topic, std::ostream& out) {
    if (topic.empty()) {
        out << "usage: compress [--json] [--progress|--no-progress] COMMAND [ARGS]\n\n"
               "commands:\n"
               "  inspect FILE              tensors, dtypes, shapes, sparsity, bytes, representation\n"
               "  prune IN OUT              zero the least important weights (--criterion, --grouping, --amount)\n"
               "  quantize IN OUT           store weights as packed low-bit codes (--scheme)\n"
               "  report ORIG COMPRESSED    per tensor: error (MSE, SQNR), bytes before/after, ratio, kernel vs dense\n"
               "  help [COMMAND]            this text, or a command's options\n"
               "  version                   the tool's version\n\n"
               "options of every command: --json (machine-readable output), --progress / --no-progress\n"
               "exit codes: 0 ok, 1 internal error, 2 usage, 3 file system (io), 4 malformed input file,\n"
               "            5 input that cannot be processed (NaN weights, mismatched shapes),\n"
               "            130 interrupted by SIGINT/SIGTERM (the output is not written)\n";
        return;
    }
    if (topic == "inspect") {
        out << "usage: compress inspect FILE [--json]\n"
               "Lists every tensor of a safetensors file or compressed model: representation, dtype, shape,\n"
               "sparsity (fraction of zero weights), stored bytes and scheme.\n";
    } else if (topic == "prune") {
        out << "usage: compress prune IN OUT --amount F [--criterion C] [--grouping G] [--global] [--only REGEX] [--seed N]\n"
               "                            [--store S]\n"
               "criteria:\n";
        for (const auto& c : criteria()) out << "  " << std::left << std::setw(20) << c.name << c.description << '\n';
        out << "groupings:\n";
        for (const auto& g : groupings()) out << "  " << std::left << std::setw(20) << g.name << g.description << '\n';
        out << "stores (--store, how a pruned 2-d weight is written; rank 3-4 weights are always masked):\n";
        for (const auto& s : stores()) out << "  " << std::left << std::setw(20) << s.name << s.description << '\n';
        out << "--global ranks all selected tensors together (unstructured only); --only selects tensors by name.\n";
    } else if (topic == "quantize") {
        out << "usage: compress quantize IN OUT --scheme S [--only REGEX]\nschemes:\n";
        for (const auto& s : quant_schemes()) out << "  " << std::left << std::setw(20) << s.name << s.description << '\n';
        out << "Dense floating-point tensors of rank 2 to 4 (weights) are quantized; others are copied.\n";
    } else if (topic == "report") {
        out << "usage: compress report ORIG COMPRESSED [--batch N] [--json]\n"
               "For every tensor of COMPRESSED: MSE, SQNR (dB) and max |error| against ORIG, stored bytes\n"
               "before and after, the compression ratio, and whether the kernel of its format is expected to\n"
               "beat the dense one for N activation rows (default 1; the sparse kernels' cost model,\n"
               "kernels/cost_table.hpp; n/a where the model has no number).\n";
    }
}

}  // namespace detail

// Declared in api.hpp.
int run(const std::vector<std::string>& args, console& c) {
    options o;
    bool json = false;
    for (const auto& a : args) json = json || a == "--json";
    auto fail = [&](int code, const char* kind, const std::string& message) {
        c.err << "compress: " << message << '\n';
        if (code == exit_usage) c.err << "Try 'compress help'.\n";
        if (json) {
            namespace j = compress::detail::json;
            j::value e = j::make_object();
            e.members.emplace_back("kind", j::make_string(kind));
            e.members.emplace_back("message", j::make_string(compress::detail::json::is_utf8(message) ? message : "(message is not UTF-8)"));
            e.members.emplace_back("exit_code", j::make_uint(static_cast<std::uint64_t>(code)));
            j::value r = j::make_object();
            r.members.emplace_back("error", e);
            c.out << j::dump(r) << '\n';
        }
        return code;
    };
    try {
        o = parse_args(args);
        if (o.command == "help") {
            detail::print_help(o.topic, c.out);
            return exit_ok;
        }
        if (o.command == "version") {
            c.out << version_string() << '\n';
            return exit_ok;
        }
        if (o.command == "inspect") return detail::cmd_inspect(o, c);
        if (o.command == "quantize") return detail::cmd_quantize(o, c);
        if (o.command == "prune") return detail::cmd_prune(o, c);
        if (o.command == "report") return detail::cmd_report(o, c);
        return fail(exit_internal, "internal", "internal error: command '" + o.command + "' has no implementation");
    } catch (const interrupted_error& e) {
        return fail(exit_interrupted, "interrupted", e.what());
    } catch (const usage_error& e) {
        return fail(exit_usage, "usage", e.what());
    } catch (const io_error& e) {
        return fail(exit_io, "io", e.what());
    } catch (const format_error& e) {
        return fail(exit_format, "format", e.what());
    } catch (const value_error& e) {
        return fail(exit_value, "value", e.what());
    } catch (const shape_error& e) {
        return fail(exit_value, "shape", e.what());
    } catch (const std::bad_alloc&) {
        return fail(exit_internal, "internal", "out of memory");
    } catch (const std::exception& e) {
        return fail(exit_internal, "internal", std::string("internal error: ") + e.what());
    }
}

}  // namespace compress::cli
