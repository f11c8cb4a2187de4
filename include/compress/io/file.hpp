#pragma once
// Files for io.hpp: read-only byte storage (memory-mapped or read into memory) and atomic
// writes (a temporary file in the destination's directory, renamed over it on success).
// POSIX only. Internal: namespace compress::detail.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"

namespace compress::io {

/// How a reader gets at a file's bytes.
enum class map_mode {
    automatic,  ///< memory-map files of at least `mmap_threshold` bytes, read smaller ones
    always,     ///< always memory-map (non-empty files)
    never       ///< always read into memory
};

/// Files at least this large are memory-mapped by map_mode::automatic (1 MiB).
inline constexpr std::size_t mmap_threshold = std::size_t(1) << 20;

}  // namespace compress::io

namespace compress::detail {

inline std::string errno_str(int err) { return std::strerror(err); }

/// Read-only bytes of a file or a memory buffer. Shared (std::shared_ptr) by the objects that
/// point into it, so a tensor view stays valid as long as something refers to the storage.
class byte_storage {
public:
    byte_storage(const byte_storage&) = delete;
    byte_storage& operator=(const byte_storage&) = delete;
    ~byte_storage() {
        if (map_ != nullptr) ::munmap(map_, size_);
    }

    const std::uint8_t* data() const noexcept {
        return map_ != nullptr ? static_cast<const std::uint8_t*>(map_) : buffer_.data();
    }
    std::size_t size() const noexcept { return map_ != nullptr ? size_ : buffer_.size(); }
    bool mapped() const noexcept { return map_ != nullptr; }
    const std::string& origin() const noexcept { return origin_; }

    /// Takes ownership of a buffer (`origin` names it in error messages).
    static std::shared_ptr<const byte_storage> from_buffer(std::vector<std::uint8_t> bytes, std::string origin) {
        std::shared_ptr<byte_storage> s(new byte_storage());
        s->buffer_ = std::move(bytes);
        s->origin_ = std::move(origin);
        return s;
    }

    /// Copies a byte span.
    static std::shared_ptr<const byte_storage> copy_of(const void* data, std::size_t size, std::string origin) {
        const auto* p = static_cast<const std::uint8_t*>(data);
        return from_buffer(std::vector<std::uint8_t>(p, p + size), std::move(origin));
    }

    /// Opens a regular file; maps it or reads it according to `mode`. Throws io_error.
    static std::shared_ptr<const byte_storage> open(const std::string& path, io::map_mode mode = io::map_mode::automatic) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            const int err = errno;
            throw io_error("cannot open '" + path + "': " + errno_str(err));
        }
        struct fd_guard {
            int fd;
            ~fd_guard() { ::close(fd); }
        } guard{fd};
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            const int err = errno;
            throw io_error("cannot stat '" + path + "': " + errno_str(err));
        }
        if (S_ISDIR(st.st_mode)) throw io_error("cannot read '" + path + "': it is a directory");
        if (!S_ISREG(st.st_mode)) throw io_error("cannot read '" + path + "': not a regular file");
        const auto size = static_cast<std::size_t>(st.st_size);
        std::shared_ptr<byte_storage> s(new byte_storage());
        s->origin_ = path;
        const bool map = size > 0 && (mode == io::map_mode::always ||
                                      (mode == io::map_mode::automatic && size >= io::mmap_threshold));
        if (map) {
            void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
            if (p == MAP_FAILED) {
                const int err = errno;
                throw io_error("cannot memory-map '" + path + "': " + errno_str(err));
            }
            s->map_ = p;
            s->size_ = size;
            return s;
        }
        s->buffer_.resize(size);
        std::size_t done = 0;
        while (done < size) {
            const ssize_t r = ::read(fd, s->buffer_.data() + done, size - done);
            if (r < 0) {
                if (errno == EINTR) continue;
                const int err = errno;
                throw io_error("cannot read '" + path + "': " + errno_str(err));
            }
            if (r == 0) throw io_error("cannot read '" + path + "': the file shrank while it was read");
            done += static_cast<std::size_t>(r);
        }
        return s;
    }

private:
    byte_storage() = default;
    std::vector<std::uint8_t> buffer_;
    void* map_ = nullptr;
    std::size_t size_ = 0;
    std::string origin_;
};

/// Destination of a writer: either an in-memory buffer or an atomic file.
class byte_sink {
public:
    virtual ~byte_sink() = default;
    virtual void write(const void* data, std::size_t size) = 0;
};

class buffer_sink final : public byte_sink {
public:
    void write(const void* data, std::size_t size) override {
        const auto* p = static_cast<const std::uint8_t*>(data);
        bytes.insert(bytes.end(), p, p + size);
    }
    std::vector<std::uint8_t> bytes;
};

/// Throws io_error unless `path` is absent or a regular file (a symbolic link to one is fine):
/// renaming a finished file over a device, a directory, a FIFO or a socket would replace it
/// (as root, even /dev/full or /dev/null), so such a destination is refused up front.
inline void check_regular_destination(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
        throw io_error("cannot write '" + path + "': it exists and is not a regular file " +
                       (S_ISDIR(st.st_mode) ? "(a directory)" : "(a device, FIFO or socket)"));
    }
}

/// Writes a file atomically: the bytes go to a new temporary file beside `path`, which is
/// flushed to disk and renamed over `path` by commit(). Destroying the object without
/// commit() (an exception on the way) removes the temporary file and leaves `path` as it was.
/// A destination that exists and is not a regular file is refused (check_regular_destination).
class atomic_file final : public byte_sink {
public:
    explicit atomic_file(std::string path) : path_(std::move(path)) {
        if (path_.empty()) throw io_error("cannot write a file with an empty path");
        check_regular_destination(path_);
        static std::atomic<unsigned> counter{0};
        for (int attempt = 0; attempt < 100; ++attempt) {
            const auto stamp = static_cast<unsigned long long>(
                std::chrono::steady_clock::now().time_since_epoch().count());
            tmp_ = path_ + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
                   std::to_string(stamp % 1000003u);
            // 0666 filtered by the umask: the same permissions an ordinary new file gets.
            fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
            if (fd_ >= 0) break;
            if (errno != EEXIST) {
                const int err = errno;
                throw io_error("cannot create a temporary file for '" + path_ + "' (" + tmp_ + "): " + errno_str(err));
            }
        }
        if (fd_ < 0) throw io_error("cannot create a temporary file for '" + path_ + "': too many name collisions");
    }
    atomic_file(const atomic_file&) = delete;
    atomic_file& operator=(const atomic_file&) = delete;

    ~atomic_file() override {
        if (fd_ >= 0) ::close(fd_);
        if (!committed_) ::unlink(tmp_.c_str());
    }

    void write(const void* data, std::size_t size) override {
        const auto* p = static_cast<const std::uint8_t*>(data);
        while (size > 0) {
            const ssize_t w = ::write(fd_, p, size);
            if (w < 0) {
                if (errno == EINTR) continue;
                const int err = errno;
                throw io_error("cannot write '" + path_ + "': " + errno_str(err));
            }
            p += w;
            size -= static_cast<std::size_t>(w);
            written_ += static_cast<std::size_t>(w);
        }
    }

    std::size_t written() const noexcept { return written_; }
    const std::string& temporary_path() const noexcept { return tmp_; }

    /// Flushes, closes and renames the temporary file over the destination.
    void commit() {
        if (::fsync(fd_) != 0) {
            const int err = errno;
            throw io_error("cannot flush '" + path_ + "': " + errno_str(err));
        }
        const int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) {
            const int err = errno;
            throw io_error("cannot close '" + path_ + "': " + errno_str(err));
        }
        check_regular_destination(path_);  // again: it may have appeared while the file was written
        if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
            const int err = errno;
            throw io_error("cannot rename '" + tmp_ + "' to '" + path_ + "': " + errno_str(err));
        }
        committed_ = true;
    }

private:
    std::string path_;
    std::string tmp_;
    int fd_ = -1;
    bool committed_ = false;
    std::size_t written_ = 0;
};

}  // namespace compress::detail
