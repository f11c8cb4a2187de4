#pragma once
// Fashion-MNIST from Debian's dataset-fashion-mnist package (gzipped IDX files), and the IDX
// reader under it. This header needs zlib: link ZLIB::ZLIB (find_package(ZLIB)) in the
// targets that include it; the rest of compress needs no zlib.
//
// zlib.h declares a global function named `compress`, which cannot coexist with namespace
// `compress` in one translation unit. This header therefore includes zlib.h inside a namespace
// of its own (the functions keep their C linkage, so they link to libz as usual), after the
// system headers zconf.h would include. Do not include <zlib.h> yourself in a translation unit
// that uses compress.

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>
#if __has_include(<unistd.h>)
#include <unistd.h>
#endif
#ifdef ZLIB_H
#error "compress/nn/fashion_mnist.hpp: <zlib.h> was included before; its global function `compress` clashes with namespace compress"
#endif
namespace compress_zlib {
#include <zlib.h>
}  // namespace compress_zlib

#include "../core/error.hpp"
#include "config.hpp"
#include "parameter.hpp"

namespace compress::nn {
inline namespace COMPRESS_NN_ABI {

/// Where Debian's dataset-fashion-mnist installs the four files.
inline constexpr const char* fashion_mnist_default_dir = "/usr/share/datasets/fashion-mnist";

/// The ten classes, by label.
inline constexpr std::array<const char*, 10> fashion_mnist_classes = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

/// An IDX array of unsigned bytes: its dimensions and its row-major values.
struct idx_array {
    std::vector<std::size_t> dims;
    std::vector<std::uint8_t> values;
};

namespace detail {

/// Largest IDX payload accepted (a hostile header or a gzip bomb cannot make us allocate more).
inline constexpr std::size_t idx_max_bytes = std::size_t(1) << 31;

inline std::vector<std::uint8_t> read_whole_file(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw io_error("cannot open '" + path + "': " + std::strerror(errno));
    std::vector<std::uint8_t> out;
    std::uint8_t buf[1 << 16];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        out.insert(out.end(), buf, buf + n);
        if (out.size() > idx_max_bytes) {
            std::fclose(f);
            throw format_error("'" + path + "' is larger than " + std::to_string(idx_max_bytes) + " bytes");
        }
    }
    const bool failed = std::ferror(f) != 0;
    std::fclose(f);
    if (failed) throw io_error("cannot read '" + path + "'");
    return out;
}

/// Parses the IDX header at the front of `b` (n bytes so far). Returns false when more bytes
/// are needed; on success sets dims and the payload size. Throws format_error when malformed.
inline bool parse_idx_header(const std::uint8_t* b, std::size_t n, const std::string& where,
                             std::vector<std::size_t>& dims, std::size_t& header, std::size_t& payload) {
    if (n < 4) return false;
    if (b[0] != 0 || b[1] != 0) {
        throw format_error("'" + where + "' is not an IDX file (the first two bytes are not zero)");
    }
    if (b[2] != 0x08) {
        char code[8];
        std::snprintf(code, sizeof code, "0x%02X", static_cast<unsigned>(b[2]));
        throw format_error("'" + where + "': IDX element type " + code +
                           " is not supported (only unsigned bytes, 0x08)");
    }
    const std::size_t ndim = b[3];
    if (ndim == 0) throw format_error("'" + where + "': IDX header declares 0 dimensions");
    header = 4 + 4 * ndim;
    if (n < header) return false;
    dims.clear();
    std::size_t total = 1;
    for (std::size_t d = 0; d < ndim; ++d) {
        const std::uint8_t* p = b + 4 + 4 * d;
        const std::size_t v = (std::size_t(p[0]) << 24) | (std::size_t(p[1]) << 16) | (std::size_t(p[2]) << 8) | p[3];
        dims.push_back(v);
        if (v != 0 && total > idx_max_bytes / v) {
            throw format_error("'" + where + "': IDX header declares more than " + std::to_string(idx_max_bytes) +
                               " bytes of data");
        }
        total *= v;
    }
    payload = total;
    return true;
}

}  // namespace detail

/// Parses the bytes of an IDX file of unsigned bytes, gzipped (detected by its magic bytes)
/// or plain; `path` names them in messages. A pure function over a byte span (the fuzz target
/// calls it). Throws format_error when the data is truncated, corrupt (bad gzip data or
/// checksum), of another element type, or longer than its header says.
inline idx_array parse_idx(const std::uint8_t* raw_data, std::size_t raw_size, const std::string& path) {
    const std::uint8_t* const raw = raw_data;
    std::vector<std::uint8_t> data;
    const bool gz = raw_size >= 2 && raw[0] == 0x1f && raw[1] == 0x8b;
    std::vector<std::size_t> dims;
    std::size_t header = 0, payload = 0;
    bool have_header = false;
    using namespace compress_zlib;
    if (!gz) {
        data.assign(raw, raw + raw_size);
    } else {
        z_stream zs{};
        if (inflateInit2(&zs, 15 + 16) != Z_OK) throw format_error("'" + path + "': cannot initialise zlib");
        if (raw_size > static_cast<std::size_t>(static_cast<uInt>(-1))) {
            inflateEnd(&zs);
            throw format_error("'" + path + "': gzip file larger than 4 GiB");
        }
        zs.next_in = const_cast<Bytef*>(raw);
        zs.avail_in = static_cast<uInt>(raw_size);
        int rc = Z_OK;
        std::uint8_t buf[1 << 16];
        while (rc != Z_STREAM_END) {
            zs.next_out = buf;
            zs.avail_out = sizeof buf;
            rc = inflate(&zs, Z_NO_FLUSH);
            if (rc != Z_OK && rc != Z_STREAM_END) {
                const std::string msg = zs.msg ? zs.msg : (rc == Z_BUF_ERROR ? "unexpected end of data" : "error");
                inflateEnd(&zs);
                if (rc == Z_BUF_ERROR) throw format_error("'" + path + "': truncated gzip stream");
                throw format_error("'" + path + "': corrupt gzip stream (" + msg + ")");
            }
            data.insert(data.end(), buf, buf + (sizeof buf - zs.avail_out));
            if (!have_header) {
                try {
                    have_header = detail::parse_idx_header(data.data(), data.size(), path, dims, header, payload);
                } catch (...) {
                    inflateEnd(&zs);
                    throw;
                }
            }
            if (have_header && data.size() > header + payload) {
                inflateEnd(&zs);
                throw format_error("'" + path + "' holds more data than its IDX header declares (" +
                                   std::to_string(payload) + " bytes)");
            }
            if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
                inflateEnd(&zs);
                throw format_error("'" + path + "': truncated gzip stream");
            }
        }
        const bool trailing = zs.avail_in != 0;
        inflateEnd(&zs);
        if (trailing) throw format_error("'" + path + "': bytes after the end of the gzip stream");
    }
    if (!have_header && !detail::parse_idx_header(data.data(), data.size(), path, dims, header, payload)) {
        throw format_error("'" + path + "': truncated IDX header (" + std::to_string(data.size()) + " bytes)");
    }
    if (data.size() < header + payload) {
        throw format_error("'" + path + "': truncated IDX data, " + std::to_string(data.size() - header) + " of " +
                           std::to_string(payload) + " bytes");
    }
    if (data.size() > header + payload) {
        throw format_error("'" + path + "' holds more data than its IDX header declares (" + std::to_string(payload) +
                           " bytes)");
    }
    idx_array out;
    out.dims = std::move(dims);
    out.values.assign(data.begin() + static_cast<std::ptrdiff_t>(header), data.end());
    return out;
}

/// Reads an IDX file of unsigned bytes, gzipped (detected by its magic bytes) or plain.
/// Throws io_error when the file cannot be read, format_error when it is truncated, corrupt
/// (bad gzip data or checksum), of another element type, or longer than its header says.
inline idx_array read_idx(const std::string& path) {
    const std::vector<std::uint8_t> raw = detail::read_whole_file(path);
    return parse_idx(raw.data(), raw.size(), path);
}

/// One split of Fashion-MNIST: images scaled to [0, 1] (pixel / 255) and labels 0..9.
struct fashion_mnist {
    tensor images;  ///< [n, 784] (flat) or [n, 1, 28, 28]
    labels targets;  ///< [n]
};

/// Loads the "train" (60000 images) or "test" (10000) split from `dir`
/// (`{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`). `flat` gives [n, 784] images, else
/// [n, 1, 28, 28]. Throws value_error for another split name, io_error when a file cannot be
/// read, format_error when a file is malformed, the counts differ or a label is not 0..9.
inline fashion_mnist load_fashion_mnist(const std::string& split = "train",
                                        const std::string& dir = fashion_mnist_default_dir, bool flat = true) {
    std::string prefix;
    if (split == "train") {
        prefix = "train";
    } else if (split == "test") {
        prefix = "t10k";
    } else {
        throw value_error("load_fashion_mnist: split must be \"train\" or \"test\", got \"" + split + "\"");
    }
    const std::string img_path = dir + "/" + prefix + "-images-idx3-ubyte.gz";
    const std::string lbl_path = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
    const idx_array img = read_idx(img_path);
    const idx_array lbl = read_idx(lbl_path);
    if (img.dims.size() != 3 || img.dims[1] != 28 || img.dims[2] != 28) {
        throw format_error("'" + img_path + "': images have shape " + compress::detail::shape_str(img.dims) +
                           ", expected [n, 28, 28]");
    }
    if (lbl.dims.size() != 1) {
        throw format_error("'" + lbl_path + "': labels have shape " + compress::detail::shape_str(lbl.dims) +
                           ", expected [n]");
    }
    const std::size_t n = img.dims[0];
    if (lbl.dims[0] != n) {
        throw format_error("'" + lbl_path + "' has " + std::to_string(lbl.dims[0]) + " labels for " +
                           std::to_string(n) + " images");
    }
    fashion_mnist out;
    out.images = flat ? tensor::from_shape({n, 784}) : tensor::from_shape({n, 1, 28, 28});
    float* dst = out.images.data();
    for (std::size_t i = 0, m = img.values.size(); i < m; ++i) dst[i] = static_cast<float>(img.values[i]) / 255.0f;
    out.targets = labels::from_shape({n});
    for (std::size_t i = 0; i < n; ++i) {
        if (lbl.values[i] > 9) {
            throw format_error("'" + lbl_path + "': label " + std::to_string(lbl.values[i]) + " at index " +
                               std::to_string(i) + " is outside 0..9");
        }
        out.targets(i) = lbl.values[i];
    }
    return out;
}

}  // namespace COMPRESS_NN_ABI
}  // namespace compress::nn
