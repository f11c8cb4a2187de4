// nn/fashion_mnist.hpp: IDX reading (gzipped and plain), Fashion-MNIST loading, and every
// kind of bad file (missing, truncated, corrupt, inconsistent) -> io_error / format_error.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <compress/nn/fashion_mnist.hpp>

using namespace compress;
namespace fs = std::filesystem;
using bytes = std::vector<std::uint8_t>;

namespace {

struct temp_dir {
    fs::path path;
    temp_dir() {
        path = fs::temp_directory_path() / ("compress_nn_fmnist_" + std::to_string(::getpid()));
        fs::create_directories(path);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string file(const std::string& name) const { return (path / name).string(); }
};

bytes idx_header(std::uint8_t type, const std::vector<std::uint32_t>& dims) {
    bytes b = {0, 0, type, static_cast<std::uint8_t>(dims.size())};
    for (auto d : dims) {
        b.push_back(static_cast<std::uint8_t>(d >> 24));
        b.push_back(static_cast<std::uint8_t>(d >> 16));
        b.push_back(static_cast<std::uint8_t>(d >> 8));
        b.push_back(static_cast<std::uint8_t>(d));
    }
    return b;
}

bytes gzip(const bytes& raw) {
    using namespace compress_zlib;
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    bytes out(deflateBound(&zs, static_cast<uLong>(raw.size())) + 64);
    zs.next_in = const_cast<Bytef*>(raw.data());
    zs.avail_in = static_cast<uInt>(raw.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

void write(const std::string& path, const bytes& b) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// n images whose pixel (i, r, c) = (i + r + c) % 256, and labels i % 10.
bytes images_idx(std::uint32_t n) {
    bytes b = idx_header(0x08, {n, 28, 28});
    for (std::uint32_t i = 0; i < n; ++i)
        for (std::uint32_t r = 0; r < 28; ++r)
            for (std::uint32_t c = 0; c < 28; ++c) b.push_back(static_cast<std::uint8_t>((i + r + c) % 256));
    return b;
}
bytes labels_idx(std::uint32_t n) {
    bytes b = idx_header(0x08, {n});
    for (std::uint32_t i = 0; i < n; ++i) b.push_back(static_cast<std::uint8_t>(i % 10));
    return b;
}

}  // namespace

TEST_CASE("load_fashion_mnist reads gzipped IDX files written here", "[nn][data][fashion_mnist]") {
    temp_dir dir;
    write(dir.file("train-images-idx3-ubyte.gz"), gzip(images_idx(12)));
    write(dir.file("train-labels-idx1-ubyte.gz"), gzip(labels_idx(12)));
    const auto d = nn::load_fashion_mnist("train", dir.path.string());
    REQUIRE(d.images.dimension() == 2);
    CHECK(d.images.shape()[0] == 12);
    CHECK(d.images.shape()[1] == 784);
    CHECK(d.images(11, 27 * 28 + 5) == Approx((11 + 27 + 5) / 255.0f));
    CHECK(d.images(0, 0) == 0.0f);
    CHECK(d.targets(11) == 1);
    const auto img = nn::load_fashion_mnist("train", dir.path.string(), false);
    REQUIRE(img.images.dimension() == 4);
    CHECK(img.images(3, 0, 10, 20) == Approx((3 + 10 + 20) / 255.0f));
    // A plain (not gzipped) IDX file reads the same.
    write(dir.file("plain.idx"), labels_idx(5));
    const auto raw = nn::read_idx(dir.file("plain.idx"));
    CHECK(raw.dims == std::vector<std::size_t>{5});
    CHECK(raw.values == bytes{0, 1, 2, 3, 4});
}

TEST_CASE("bad files throw format_error or io_error with the file and the problem", "[nn][data][fashion_mnist][errors]") {
    temp_dir dir;
    const std::string f = dir.file("t.gz");
    const bytes good = gzip(labels_idx(1000));

    SECTION("missing file") {
        CHECK_THROWS_AS(nn::read_idx(dir.file("none.gz")), io_error);
        CHECK_THROWS_WITH(nn::read_idx(dir.file("none.gz")),
                          "io error: cannot open '" + dir.file("none.gz") + "': No such file or directory");
    }
    SECTION("truncated gzip stream") {
        write(f, bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() / 2)));
        CHECK_THROWS_AS(nn::read_idx(f), format_error);
        CHECK_THROWS_WITH(nn::read_idx(f), "format error: '" + f + "': truncated gzip stream");
        write(f, bytes(good.begin(), good.begin() + 5));  // inside the gzip header
        CHECK_THROWS_WITH(nn::read_idx(f), "format error: '" + f + "': truncated gzip stream");
    }
    SECTION("corrupt checksum") {
        bytes bad = good;
        bad[bad.size() - 8] ^= 0xFF;  // the CRC-32 of the trailer
        write(f, bad);
        CHECK_THROWS_AS(nn::read_idx(f), format_error);
        CHECK_THROWS_WITH(nn::read_idx(f), "format error: '" + f + "': corrupt gzip stream (incorrect data check)");
    }
    SECTION("corrupt deflate data") {
        bytes bad = good;
        for (std::size_t i = 12; i < bad.size() - 8; i += 3) bad[i] ^= 0x5A;
        write(f, bad);
        CHECK_THROWS_AS(nn::read_idx(f), format_error);
        CHECK_THROWS_WITH(nn::read_idx(f), Catch::Matchers::StartsWith("format error: '" + f + "': corrupt gzip stream ("));
    }
    SECTION("bytes after the gzip stream") {
        bytes bad = good;
        bad.push_back(0);
        write(f, bad);
        CHECK_THROWS_WITH(nn::read_idx(f), "format error: '" + f + "': bytes after the end of the gzip stream");
    }
    SECTION("not IDX, other element type, zero dimensions") {
        write(f, gzip(bytes{1, 2, 3, 4, 5}));
        CHECK_THROWS_WITH(nn::read_idx(f), "format error: '" + f + "' is not an IDX file (the first two bytes are not zero)");
        write(f, gzip(idx_header(0x0D, {2})));
        CHECK_THROWS_WITH(nn::read_idx(f),
                          "format error: '" + f + "': IDX element type 0x0D is not supported (only unsigned bytes, 0x08)");
        write(f, gzip(idx_header(0x08, {})));
        CHECK_THROWS_WITH(nn::read_idx(f), "format error: '" + f + "': IDX header declares 0 dimensions");
    }
    SECTION("truncated header and data, data longer than declared") {
        write(f, gzip(bytes{0, 0, 8, 3, 0, 0}));
        CHECK_THROWS_WITH(nn::read_idx(f), "format error: '" + f + "': truncated IDX header (6 bytes)");
        bytes short_data = labels_idx(10);
        short_data.resize(short_data.size() - 3);
        write(f, gzip(short_data));
        CHECK_THROWS_WITH(nn::read_idx(f), "format error: '" + f + "': truncated IDX data, 7 of 10 bytes");
        write(f, short_data);  // plain file: same check
        CHECK_THROWS_WITH(nn::read_idx(f), "format error: '" + f + "': truncated IDX data, 7 of 10 bytes");
        bytes long_data = labels_idx(10);
        long_data.push_back(1);
        write(f, gzip(long_data));
        CHECK_THROWS_WITH(nn::read_idx(f), "format error: '" + f + "' holds more data than its IDX header declares (10 bytes)");
    }
    SECTION("a header declaring gigabytes is refused before allocating") {
        write(f, gzip(idx_header(0x08, {65536, 65536, 2})));
        CHECK_THROWS_WITH(nn::read_idx(f),
                          "format error: '" + f + "': IDX header declares more than 2147483648 bytes of data");
    }
}

TEST_CASE("inconsistent Fashion-MNIST files are format errors", "[nn][data][fashion_mnist][errors]") {
    temp_dir dir;
    const std::string d = dir.path.string();
    const std::string img = dir.file("t10k-images-idx3-ubyte.gz"), lbl = dir.file("t10k-labels-idx1-ubyte.gz");
    write(img, gzip(images_idx(4)));
    write(lbl, gzip(labels_idx(3)));
    CHECK_THROWS_WITH(nn::load_fashion_mnist("test", d), "format error: '" + lbl + "' has 3 labels for 4 images");
    bytes bad_labels = labels_idx(4);
    bad_labels.back() = 10;
    write(lbl, gzip(bad_labels));
    CHECK_THROWS_WITH(nn::load_fashion_mnist("test", d), "format error: '" + lbl + "': label 10 at index 3 is outside 0..9");
    write(img, gzip(idx_header(0x08, {1, 28, 27})));
    CHECK_THROWS_WITH(nn::load_fashion_mnist("test", d).images.size(),
                      Catch::Matchers::StartsWith("format error: '" + img + "': truncated IDX data"));
    bytes wrong_shape = idx_header(0x08, {1, 27, 28});
    wrong_shape.resize(wrong_shape.size() + 27 * 28);
    write(img, gzip(wrong_shape));
    CHECK_THROWS_WITH(nn::load_fashion_mnist("test", d),
                      "format error: '" + img + "': images have shape [1, 27, 28], expected [n, 28, 28]");
    CHECK_THROWS_AS(nn::load_fashion_mnist("valid", d), value_error);
    CHECK_THROWS_WITH(nn::load_fashion_mnist("valid", d),
                      "value error: load_fashion_mnist: split must be \"train\" or \"test\", got \"valid\"");
    CHECK_THROWS_AS(nn::load_fashion_mnist("train", d), io_error);
}

TEST_CASE("the installed Fashion-MNIST: 60000 + 10000 images, balanced classes", "[nn][data][fashion_mnist]") {
    const std::string dir = nn::fashion_mnist_default_dir;
    if (!fs::exists(dir + "/t10k-images-idx3-ubyte.gz")) {
        WARN("dataset-fashion-mnist is not installed (scripts/install-deps.sh installs it); skipped");
        return;
    }
    // Published facts of the data set: 6000 training and 1000 test images per class.
    for (const auto& [split, n] : {std::pair<std::string, std::size_t>{"test", 10000}, {"train", 60000}}) {
        const auto d = nn::load_fashion_mnist(split);
        CHECK(d.images.shape()[0] == n);
        CHECK(d.targets.size() == n);
        std::vector<std::size_t> count(10, 0);
        for (auto y : d.targets) ++count[static_cast<std::size_t>(y)];
        for (auto c : count) CHECK(c == n / 10);
        CHECK(xt::amin(d.images)() == 0.0f);
        CHECK(xt::amax(d.images)() == 1.0f);
    }
}
