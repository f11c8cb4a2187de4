#pragma once
#ifndef COMPRESS_CLI_IMPLEMENTATION
#error "an implementation header of the compress tool: include cli/api.hpp and link compress_cli_lib"
#endif
// Streaming compression for big checkpoints (issue 10): `compress quantize` and
// `compress prune` (per tensor) read the memory-mapped input tensor by tensor and write the
// output as they go, so the peak memory is about one tensor's working set, not the model.
//
//  - Rank-2 weights whose scheme works row by row (per-channel / per-group quantization,
//    N:M magnitude pruning) are cut into blocks of rows ("chunks"); two worker threads
//    compress chunks while the calling thread writes finished ones in order. The chunks'
//    parts are joined into the parts the whole-tensor scheme gives: parts stacked by rows
//    (values, codes, scales, packed masks: every chunk but the last holds a multiple of 64
//    weights), CSR row pointers shifted by the entries before them, a masked entry's
//    "sparsity" attribute recomputed for the whole tensor (tests/test_cli_stream.cpp compares
//    every part and the description byte for byte with the in-memory path). Other tensors
//    are compressed whole, one at a time.
//  - Pages of the mapped input are dropped (madvise) once a chunk is done, so they do not
//    accumulate in the resident set.
//  - The output is a temporary file beside the destination; the safetensors header goes
//    into space reserved at its start once every part's offset is known (or, if it outgrew
//    the reservation, the data is moved behind it). It is fsync'ed and renamed over the
//    destination only when complete. A failure (a write error, a full disk, SIGINT/SIGTERM,
//    bad input found half way) removes the temporary file and leaves the destination as it
//    was, with a message saying so.

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include <compress/io.hpp>

#include "api.hpp"

namespace compress::cli {

/// The run was stopped by SIGINT or SIGTERM. Exit code 130.
class interrupted_error : public compress::error {
public:
    explicit interrupted_error(const std::string& what) : compress::error("interrupted: " + what) {}
};

namespace detail {

/// Set by the signal handler of interrupt_guard (the signal number), polled between chunks.
inline volatile std::sig_atomic_t interrupt_signal = 0;

void on_interrupt(int sig) { interrupt_signal = sig; }

/// Catches SIGINT and SIGTERM while a streamed write runs (restores the previous handlers).
/// No SA_RESTART: a blocking write returns EINTR, so the stop is prompt.
class interrupt_guard {
public:
    interrupt_guard() {
        interrupt_signal = 0;
        struct sigaction sa {};
        sa.sa_handler = &on_interrupt;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        ::sigaction(SIGINT, &sa, &old_int_);
        ::sigaction(SIGTERM, &sa, &old_term_);
    }
    ~interrupt_guard() {
        ::sigaction(SIGINT, &old_int_, nullptr);
        ::sigaction(SIGTERM, &old_term_, nullptr);
    }
    interrupt_guard(const interrupt_guard&) = delete;
    interrupt_guard& operator=(const interrupt_guard&) = delete;

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

inline void check_interrupt(const std::string& out) {
    const int sig = interrupt_signal;
    if (sig != 0) {
        throw interrupted_error(std::string(sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal") +
                                " received; '" + out + "' was not written (its temporary file is removed)");
    }
}

// stream_settings: api.hpp.
stream_settings& stream_config() {
    static stream_settings s;
    return s;
}

/// Drops the pages of [p, p + n) of a read-only private file mapping from the resident set:
/// the whole pages inside the range, or (`outward`) every page the range touches. Dropping a
/// page that is still needed is harmless (the next access maps it again from the page cache),
/// so outward drops may cover a neighbour's bytes. Only for file mappings: on anonymous
/// memory MADV_DONTNEED would zero the data.
inline void drop_pages(const void* p, std::size_t n, bool outward = false) {
    static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    auto b = reinterpret_cast<std::uintptr_t>(p);
    auto e = b + n;
    b = outward ? b / page * page : (b + page - 1) / page * page;
    e = outward ? (e + page - 1) / page * page : e / page * page;
    if (e > b) ::madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

/// Throws io_error unless `path` is absent or a regular file: renaming over a device, a
/// directory or a FIFO would destroy it (as root, even /dev/full). The io library's
/// atomic_file applies the same rule with the same message.
inline void check_output_path(const std::string& path) { compress::detail::check_regular_destination(path); }

/// The value_error the library's check_finite would throw for the first NaN/Inf of a chunk
/// of rows, with the position in the whole tensor.
inline void check_finite_rows(const io::tensor_view& whole, const std::vector<float>& chunk, std::size_t first_flat) {
    for (std::size_t i = 0; i < chunk.size(); ++i) {
        if (!std::isfinite(chunk[i])) {
            throw value_error(compress::detail::where(whole.name()) + " has a non-finite value (" +
                              (std::isnan(chunk[i]) ? "NaN" : "Inf") + ") at " +
                              compress::detail::index_str(whole.shape(), first_flat + i));
        }
    }
}

/// A new file written front to back, with the first `reserve` bytes left for a header that
/// is written last. Removed unless commit() succeeds.
class streamed_file {
public:
    streamed_file(std::string path, std::size_t reserve) : path_(std::move(path)), reserve_(reserve) {
        fd_ = open_temp(path_, tmp_);
        if (::lseek(fd_, static_cast<off_t>(reserve_), SEEK_SET) < 0) fail_errno("seek in");
        pos_ = reserve_;
    }
    ~streamed_file() {
        if (fd_ >= 0) ::close(fd_);
        if (!committed_) ::unlink(tmp_.c_str());
        if (!tmp2_.empty()) ::unlink(tmp2_.c_str());
    }
    streamed_file(const streamed_file&) = delete;
    streamed_file& operator=(const streamed_file&) = delete;

    /// Bytes of data written so far (offsets are relative to the end of the reservation).
    std::size_t data_size() const noexcept { return pos_ - reserve_; }

    void write(const void* data, std::size_t n) {
        const auto* p = static_cast<const std::uint8_t*>(data);
        while (n > 0) {
            const ssize_t w = ::write(fd_, p, std::min<std::size_t>(n, std::size_t(1) << 30));
            if (w < 0) {
                if (errno == EINTR) {
                    check_interrupt(path_);
                    continue;
                }
                fail_errno("write");
            }
            p += w;
            n -= static_cast<std::size_t>(w);
            pos_ += static_cast<std::size_t>(w);
        }
    }

    /// Puts `len8 + header` in front of the data (padding the header with spaces to fill the
    /// reservation, or moving the data when it does not fit), flushes and renames.
    void commit(std::string header) {
        check_interrupt(path_);
        if (header.size() + 8 <= reserve_) {
            header.append(reserve_ - 8 - header.size(), ' ');
            put_header(fd_, header);
        } else {
            relocate(header);
        }
        if (::fsync(fd_) != 0) fail_errno("flush");
        const int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) fail_errno("close");
        if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
            const int err = errno;
            throw io_error("cannot rename '" + tmp_ + "' to '" + path_ + "': " + compress::detail::errno_str(err));
        }
        committed_ = true;
    }

private:
    static int open_temp(const std::string& path, std::string& tmp) {
        static std::atomic<unsigned> counter{0};
        for (int attempt = 0; attempt < 100; ++attempt) {
            const auto stamp = static_cast<unsigned long long>(std::chrono::steady_clock::now().time_since_epoch().count());
            tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
                  std::to_string(stamp % 1000003u);
            const int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            if (fd >= 0) return fd;
            if (errno != EEXIST) {
                const int err = errno;
                throw io_error("cannot create a temporary file for '" + path + "' (" + tmp + "): " +
                               compress::detail::errno_str(err));
            }
        }
        throw io_error("cannot create a temporary file for '" + path + "': too many name collisions");
    }

    [[noreturn]] void fail_errno(const char* what) const {
        const int err = errno;
        throw io_error(std::string("cannot ") + what + " '" + path_ + "' (temporary file " + tmp_ + ", removed): " +
                       compress::detail::errno_str(err));
    }

    void pwrite_all(int fd, const void* data, std::size_t n, std::size_t at) const {
        const auto* p = static_cast<const std::uint8_t*>(data);
        while (n > 0) {
            const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(at));
            if (w < 0) {
                if (errno == EINTR) continue;
                fail_errno("write");
            }
            p += w;
            n -= static_cast<std::size_t>(w);
            at += static_cast<std::size_t>(w);
        }
    }

    void put_header(int fd, const std::string& header) const {
        std::uint8_t len[8];
        compress::detail::store_le<std::uint64_t>(len, header.size());
        pwrite_all(fd, len, 8, 0);
        pwrite_all(fd, header.data(), header.size(), 8);
    }

    /// The header outgrew the reservation: a second temporary file gets the header and then
    /// the data copied from the first.
    void relocate(std::string header) {
        header.append((8 - header.size() % 8) % 8, ' ');
        const int fd2 = open_temp(path_, tmp2_);
        struct guard {
            int fd;
            ~guard() {
                if (fd >= 0) ::close(fd);
            }
        } g{fd2};
        put_header(fd2, header);
        std::vector<std::uint8_t> buf(std::size_t(8) << 20);
        std::size_t from = reserve_, to = 8 + header.size();
        while (from < pos_) {
            const ssize_t r = ::pread(fd_, buf.data(), std::min(buf.size(), pos_ - from), static_cast<off_t>(from));
            if (r < 0) {
                if (errno == EINTR) continue;
                fail_errno("read back");
            }
            if (r == 0) throw io_error("cannot read back '" + tmp_ + "': it shrank while it was written");
            pwrite_all(fd2, buf.data(), static_cast<std::size_t>(r), to);
            from += static_cast<std::size_t>(r);
            to += static_cast<std::size_t>(r);
        }
        ::close(fd_);
        ::unlink(tmp_.c_str());
        fd_ = fd2;
        g.fd = -1;
        tmp_ = tmp2_;
        tmp2_.clear();
    }

    std::string path_, tmp_, tmp2_;
    std::size_t reserve_ = 0;
    std::size_t pos_ = 0;
    int fd_ = -1;
    bool committed_ = false;
};

/// One part (file tensor) written to the stream.
struct written_part {
    std::string name;
    io::dtype type;
    io::shape_type shape;
    std::size_t begin = 0, end = 0;
};

/// Sorts a model's parts for writing: larger elements first (alignment), then by name.
inline std::vector<std::pair<std::string, const io::tensor*>> parts_in_order(const io::compressed_model& m) {
    std::vector<std::pair<std::string, const io::tensor*>> v;
    for (const auto& [n, t] : m.parts()) v.emplace_back(n, &t);
    std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
        return io::dtype_size(a.second->type()) > io::dtype_size(b.second->type());
    });
    return v;
}

}  // namespace detail

/// What a streamed run wrote: every entry's description and stored bytes.
struct stream_result {
    std::map<std::string, io::compressed_entry> entries;
    std::map<std::string, std::size_t> bytes;  ///< per entry, sum of its parts
    std::map<std::string, double> sparsity;    ///< per compressed entry, what the transform returned for the whole tensor
};

/// Compresses one tensor into a model (a scheme of the registry); returns the fraction of
/// its weights that are pruned (0 for quantization).
using tensor_transform = std::function<double(io::compressed_model&, const io::tensor_view&)>;

/// Writes `out_path`: the entries of `in` in file order, those in `todo` through `transform`
/// (chunked by rows when `row_local(entry)` says the scheme works row by row on it), the
/// others copied unchanged. `step(done, label)` reports progress. `drop`: drop the input's
/// pages from the resident set once used (done only when the input is memory-mapped).
inline stream_result stream_compress(const io::compressed_file& in, const std::vector<const io::compressed_entry*>& todo,
                                     const tensor_transform& transform,
                                     const std::function<bool(const io::compressed_entry&)>& row_local,
                                     const std::string& out_path, const io::metadata_map& user_metadata, bool drop,
                                     const std::function<void(std::size_t, const std::string&)>& step) {
    namespace cd = compress::detail;
    const auto& cfg = detail::stream_config();
    if (user_metadata.count(io::compressed_metadata_key)) {
        throw value_error(std::string("compressed model: the metadata key '") + io::compressed_metadata_key + "' is reserved");
    }
    detail::check_output_path(out_path);
    detail::interrupt_guard guard;
    drop = drop && in.file().mapped();

    // entries in the order of their data in the file: the mapped input is read front to back
    std::vector<const io::compressed_entry*> order;
    for (const auto& e : in.entries()) order.push_back(&e);
    auto first_offset = [&](const io::compressed_entry* e) {
        std::size_t b = SIZE_MAX;
        for (const auto& [role, part] : e->parts) b = std::min(b, in.file().info(part).begin);
        return b;
    };
    std::stable_sort(order.begin(), order.end(), [&](auto* a, auto* b) { return first_offset(a) < first_offset(b); });

    std::size_t reserve = cfg.header_reserve;
    if (reserve == 0) {
        reserve = 4096;
        for (const auto& [k, v] : user_metadata) reserve += 6 * (k.size() + v.size()) + 16;
        for (const auto* e : order) reserve += 1024 + 64 * e->name.size();
        reserve = (reserve + 4095) / 4096 * 4096;
    }
    detail::streamed_file out(out_path, reserve);
    stream_result result;
    std::vector<detail::written_part> parts;
    std::set<std::string> part_names;
    io::compressed_model skeleton;  // entries only: the description

    auto begin_part = [&](const std::string& entry, const std::string& name, io::dtype t) {
        if (!part_names.insert(name).second) {
            throw value_error("compressed model: the part '" + name + "' of tensor '" + entry +
                              "' collides with another tensor of that name");
        }
        detail::written_part p;
        p.name = name;
        p.type = t;
        p.begin = out.data_size();
        return p;
    };
    auto end_part = [&](detail::written_part p, io::shape_type shape) {
        p.end = out.data_size();
        p.shape = std::move(shape);
        parts.push_back(std::move(p));
    };
    auto record = [&](const io::compressed_entry& e, std::size_t bytes) {
        skeleton.entry(e.name) = e;
        result.entries[e.name] = e;
        result.bytes[e.name] = bytes;
    };
    // writes a whole in-memory model (one tensor) and records it
    auto write_model = [&](const io::compressed_model& m) {
        for (const auto& [name, t] : detail::parts_in_order(m)) {
            auto p = begin_part(m.entries().begin()->first, name, t->type());
            out.write(t->data(), t->nbytes());
            end_part(std::move(p), t->shape());
        }
        for (const auto& [name, e] : m.entries()) {
            std::size_t b = 0;
            for (const auto& [role, part] : e.parts) b += m.parts().at(part).nbytes();
            record(e, b);
        }
    };

    std::size_t done = 0;
    for (const auto* e : order) {
        detail::check_interrupt(out_path);
        const bool selected = std::find(todo.begin(), todo.end(), e) != todo.end();
        if (!selected) {
            // copied unchanged, part by part, in slices
            std::size_t b = 0;
            for (const auto& [role, part] : e->parts) {
                const auto v = in.file().view(part);
                auto p = begin_part(e->name, part, v.type());
                const std::size_t slice = std::size_t(16) << 20;
                for (std::size_t at = 0; at < v.nbytes(); at += slice) {
                    detail::check_interrupt(out_path);
                    const std::size_t n = std::min(slice, v.nbytes() - at);
                    out.write(v.data() + at, n);
                    if (drop) detail::drop_pages(v.data() + at, n, true);
                }
                end_part(std::move(p), v.shape());
                b += v.nbytes();
            }
            record(*e, b);
        } else {
            step(done++, e->name);
            const auto v = in.file().view(e->parts.at("values"));
            const std::size_t rows = v.dimension() == 2 ? v.shape()[0] : 0;
            const std::size_t cols = v.dimension() == 2 ? v.shape()[1] : 0;
            std::size_t chunk_rows = 0;
            if (rows > 0 && cols > 0 && row_local(*e)) {
                chunk_rows = std::max<std::size_t>(1, cfg.chunk_elements / cols);
                // every chunk but the last holds a multiple of 64 elements (bit-packed masks)
                const std::size_t g = std::gcd<std::size_t>(cols, 64);
                const std::size_t unit = 64 / g;
                chunk_rows = (chunk_rows + unit - 1) / unit * unit;
                if (chunk_rows >= rows) chunk_rows = 0;
            }
            if (chunk_rows == 0) {
                io::compressed_model m;
                result.sparsity[e->name] = transform(m, v);
                write_model(m);
                if (cfg.after_chunk) cfg.after_chunk(e->name);
                if (drop) detail::drop_pages(v.data(), v.nbytes(), true);
            } else {
                const std::size_t nchunks = (rows + chunk_rows - 1) / chunk_rows;
                const std::size_t row_bytes = cols * io::dtype_size(v.type());
                struct chunk_out {
                    io::compressed_model m;
                    std::size_t pruned = 0;  ///< weights the chunk's mask prunes
                };
                auto run_chunk = [&, e](std::size_t c) {
                    const std::size_t r0 = c * chunk_rows, r1 = std::min(rows, r0 + chunk_rows);
                    io::tensor_view cv(e->name, v.type(), {r1 - r0, cols}, v.data() + r0 * row_bytes, (r1 - r0) * row_bytes);
                    chunk_out out;
                    double sp = 0.0;
                    try {
                        sp = transform(out.m, cv);
                    } catch (const value_error&) {
                        // the library names a NaN/Inf by its position in the block: say where
                        // it is in the whole tensor instead (the in-memory path's message)
                        std::vector<float> f(cv.size());
                        cv.copy_to(f.data());
                        detail::check_finite_rows(v, f, r0 * cols);
                        throw;
                    }
                    // sparsity = pruned / size exactly (mask::sparsity), so rounding recovers the count
                    out.pruned = static_cast<std::size_t>(std::llround(sp * static_cast<double>(cv.size())));
                    if (drop) detail::drop_pages(cv.data(), cv.nbytes());
                    return out;
                };
                // parts: the largest is streamed chunk by chunk; the others (scales, masks) are
                // collected and written after it
                std::deque<std::future<chunk_out>> inflight;
                std::size_t next = 0;
                std::string big;
                io::compressed_entry entry;
                std::size_t pruned = 0;
                std::set<std::string> pointer_parts;  // CSR row pointers: shifted, not stacked
                auto without_sparsity = [](std::map<std::string, std::string> a) {
                    a.erase("sparsity");  // a masked chunk's own fraction; recomputed for the whole below
                    return a;
                };
                std::map<std::string, std::vector<std::uint8_t>> held;
                std::map<std::string, io::shape_type> shapes;
                std::map<std::string, io::dtype> types;
                detail::written_part big_part;
                const unsigned workers = std::max(1u, cfg.workers);
                for (std::size_t c = 0; c < nchunks; ++c) {
                    while (inflight.size() < workers && next < nchunks) {
                        inflight.push_back(std::async(std::launch::async, run_chunk, next++));
                    }
                    chunk_out co = inflight.front().get();
                    inflight.pop_front();
                    detail::check_interrupt(out_path);
                    const io::compressed_model& m = co.m;
                    pruned += co.pruned;
                    const auto& ce = m.entries().at(e->name);
                    if (c == 0) {
                        entry = ce;
                        if (entry.representation == "csr") pointer_parts.insert(entry.parts.at("row_ptr"));
                        // the largest part is streamed (never a pointer part, which is shifted)
                        std::size_t most = 0;
                        for (const auto& [name, t] : m.parts()) {
                            if (!pointer_parts.count(name) && t.nbytes() >= most) {
                                most = t.nbytes();
                                big = name;
                            }
                        }
                        big_part = begin_part(e->name, big, m.parts().at(big).type());
                    } else if (without_sparsity(ce.attributes) != without_sparsity(entry.attributes) ||
                               ce.parts != entry.parts || ce.representation != entry.representation) {
                        throw std::logic_error("streamed compression of '" + e->name +
                                               "': chunks of rows disagree on the description");
                    }
                    for (const auto& [name, t] : m.parts()) {
                        auto& s = shapes[name];
                        const bool pointers = pointer_parts.count(name) != 0;
                        if (c == 0) {
                            s = t.shape();
                            types[name] = t.type();
                        } else {
                            if (s.empty() || t.shape().size() != s.size() || t.type() != types[name] ||
                                !std::equal(s.begin() + 1, s.end(), t.shape().begin() + 1) ||
                                (pointers && (s.size() != 1 || t.type() != io::dtype::u32 || t.shape()[0] == 0))) {
                                throw std::logic_error("streamed compression of '" + e->name + "': part '" + name +
                                                       "' does not stack by rows");
                            }
                            s[0] += t.shape()[0] - (pointers ? 1 : 0);
                        }
                        if (name == big) {
                            out.write(t.data(), t.nbytes());
                        } else if (pointers && c > 0) {
                            // row pointers [r + 1] of a chunk start at 0: drop that entry, shift
                            // the others by the entries of the chunks before
                            auto& h = held[name];
                            const std::uint64_t base = cd::load_le<std::uint32_t>(h.data() + h.size() - 4);
                            const std::size_t n = t.shape()[0];
                            const std::size_t at = h.size();
                            h.resize(at + 4 * (n - 1));
                            for (std::size_t i = 1; i < n; ++i) {
                                const std::uint64_t p = base + cd::load_le<std::uint32_t>(t.data() + 4 * i);
                                if (p > UINT32_MAX) cd::check_nnz_fits(static_cast<std::size_t>(p), "csr::from_dense");
                                cd::store_le<std::uint32_t>(h.data() + at + 4 * (i - 1), static_cast<std::uint32_t>(p));
                            }
                        } else {
                            auto& h = held[name];
                            h.insert(h.end(), t.data(), t.data() + t.nbytes());
                        }
                    }
                    if (drop) {
                        // the workers drop their block's whole pages; a fault of a neighbouring
                        // block may map some of them again (fault-around, large folios), so
                        // the main thread drops everything behind the blocks still in flight
                        const std::size_t r0 = (c == 0 ? 0 : c - 1) * chunk_rows;
                        const std::size_t r1 = std::min(rows, (c + 1) * chunk_rows);
                        detail::drop_pages(v.data() + r0 * row_bytes, (r1 - r0) * row_bytes, true);
                    }
                    if (cfg.after_chunk) cfg.after_chunk(e->name);
                }
                if (drop) detail::drop_pages(v.data(), v.nbytes(), true);
                end_part(std::move(big_part), shapes[big]);
                std::size_t b = parts.back().end - parts.back().begin;
                std::vector<std::string> rest;
                for (const auto& [name, h] : held) rest.push_back(name);
                std::stable_sort(rest.begin(), rest.end(), [&](const auto& a, const auto& c) {
                    return io::dtype_size(types[a]) > io::dtype_size(types[c]);
                });
                for (const auto& name : rest) {
                    auto p = begin_part(e->name, name, types[name]);
                    out.write(held[name].data(), held[name].size());
                    end_part(std::move(p), shapes[name]);
                    b += held[name].size();
                }
                entry.shape = v.shape();
                const double sparsity = static_cast<double>(pruned) / static_cast<double>(v.size());
                if (entry.attributes.count("sparsity")) entry.attributes["sparsity"] = std::to_string(sparsity);
                result.sparsity[e->name] = sparsity;
                record(entry, b);
            }
        }
        if (cfg.after_tensor) cfg.after_tensor(e->name);
    }
    step(done, "writing " + out_path);

    // the safetensors header: metadata (the user's and the description), then every part
    namespace json = compress::detail::json;
    io::metadata_map md = user_metadata;
    md[io::compressed_metadata_key] = io::describe(skeleton);
    std::string h = "{\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, val] : md) {
        if (!json::is_utf8(k) || !json::is_utf8(val)) throw value_error("safetensors: metadata entries must be valid UTF-8");
        if (!first) h += ',';
        first = false;
        json::write_string(h, k);
        h += ':';
        json::write_string(h, val);
    }
    h += '}';
    for (const auto& p : parts) {
        h += ',';
        json::write_string(h, p.name);
        h += ":{\"dtype\":\"";
        h += io::dtype_name(p.type);
        h += "\",\"shape\":[";
        for (std::size_t d = 0; d < p.shape.size(); ++d) h += (d ? "," : "") + std::to_string(p.shape[d]);
        h += "],\"data_offsets\":[" + std::to_string(p.begin) + "," + std::to_string(p.end) + "]}";
    }
    h += '}';
    if (h.size() > io::safetensors_max_header) {
        throw value_error("safetensors: the header would be " + std::to_string(h.size()) + " bytes, above the limit of " +
                          std::to_string(io::safetensors_max_header));
    }
    out.commit(std::move(h));
    return result;
}

}  // namespace compress::cli
