#pragma once
// The interface of the `compress` tool's library (compress_cli_lib, built once from cli.cpp):
// what tools/compress.cpp and the tests call. The implementation headers (commands.hpp,
// registry.hpp, stream.hpp) instantiate every scheme of the tool, about a minute of compile
// time per TU, so only cli.cpp includes them; everything else includes this header and links
// the library.

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <compress/io.hpp>
#include <xtensor/xarray.hpp>

#include "schemes.hpp"

namespace compress::cli {

/// Exit codes of the tool.
enum exit_code : int {
    exit_ok = 0,
    exit_internal = 1,  ///< a bug or an exhausted resource (out of memory)
    exit_usage = 2,     ///< the command line is wrong
    exit_io = 3,        ///< a file cannot be opened, read, written or renamed
    exit_format = 4,    ///< an input file is malformed, truncated or hostile
    exit_value = 5,     ///< the inputs are well-formed but cannot be processed (NaN weights, shapes that do not match)
    exit_interrupted = 130,  ///< stopped by SIGINT / SIGTERM while writing (stream.hpp); nothing written
};

/// Where the tool writes: results to `out`, messages and the progress bar to `err`.
struct console {
    std::ostream& out;
    std::ostream& err;
    bool err_is_terminal = false;
};

/// Runs the tool on `args` (without the program name); returns the exit code. Every failure
/// prints "compress: <message>" on c.err (and, with --json, {"error": ...} on c.out).
int run(const std::vector<std::string>& args, console& c);

/// One quantization scheme: how to quantize a tensor into a model, how to recognize an
/// entry it wrote, how to dequantize such an entry.
struct quant_entry {
    const quant_scheme_info* info;
    void (*quantize)(io::compressed_model& m, const io::tensor_view& w);
    bool (*matches)(const io::compressed_entry& e);
    xt::xarray<float> (*dequantize)(const io::compressed_file& f, const io::compressed_entry& e);
};

/// The registered scheme called `name` (schemes.hpp quant_schemes()); usage_error otherwise.
const quant_entry& quant_scheme(const std::string& name);

/// One (criterion, grouping) pair: prunes one tensor into a model, written as `store` says
/// (stores() of schemes.hpp); returns the fraction of weights the mask prunes.
struct prune_entry {
    const criterion_info* criterion;
    const grouping_info* grouping;
    double (*prune)(io::compressed_model& m, const io::tensor_view& w, double amount, std::uint64_t seed,
                    const std::string& store);
};

/// The registered pruning of `criterion` with `grouping`; usage_error otherwise.
const prune_entry& prune_scheme(const std::string& criterion, const std::string& grouping);

/// The dense float values of any entry the tool can decode: dense (any numeric dtype),
/// masked, quantized with a registered scheme, and float csr, bsr<4,4>, n_of_m<2,4>. Throws
/// format_error naming the representation otherwise.
xt::xarray<float> decode_entry(const io::compressed_file& f, const io::compressed_entry& e);

/// Name of the registered scheme that wrote a quantized entry, or "".
std::string scheme_name_of(const io::compressed_entry& e);

namespace detail {

/// Knobs of the streamed writer (stream.hpp) for tests and the benchmark; the defaults are the tool's.
struct stream_settings {
    std::size_t chunk_elements = std::size_t(1) << 20;  ///< target elements per chunk of rows
    std::size_t header_reserve = 0;                     ///< 0: estimated from the input
    unsigned workers = 2;                               ///< threads compressing chunks
    std::function<void(const std::string&)> after_tensor;  ///< test hook: called after each tensor is written
    std::function<void(const std::string&)> after_chunk;   ///< test hook: called after each block (or whole tensor) is compressed and written
};
/// The settings every streamed write uses.
stream_settings& stream_config();

/// The SIGINT / SIGTERM handler a streamed write installs (it records the signal).
void on_interrupt(int sig);

}  // namespace detail
}  // namespace compress::cli
