// .npy reading and writing: NumPy-written files of every dtype, byte order and memory order,
// round trips, and every rejection of a malformed file.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <limits>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <compress/io/npy.hpp>

// The whole file in its own namespace: it is compiled in one unity TU with the other files of its
// test program (tests/CMakeLists.txt), and its helpers have the same names as theirs.
namespace test_io_npy {

using namespace compress;
using Catch::Matchers::Contains;

namespace {
const std::string golden = std::string(COMPRESS_GOLDEN_DIR) + "/io/";

std::string temp_dir() {
    static std::string dir;
    if (dir.empty()) {
        char tmpl[] = "/tmp/compress_test_npy_XXXXXX";
        const char* d = ::mkdtemp(tmpl);
        REQUIRE(d != nullptr);
        dir = d;
    }
    return dir;
}

std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (auto* e = ::readdir(d)) {
            std::string n = e->d_name;
            if (n != "." && n != "..") out.push_back(n);
        }
        ::closedir(d);
    }
    return out;
}

// Builds a .npy file by hand: magic, version, header length, header (padded), data.
std::vector<std::uint8_t> npy_bytes(const std::string& header, const std::vector<std::uint8_t>& data,
                                    unsigned major = 1, bool pad = true) {
    std::string h = header;
    const std::size_t prefix = major == 1 ? 10 : 12;
    if (pad) {
        while ((prefix + h.size() + 1) % 64 != 0) h += ' ';
        h += '\n';
    }
    std::vector<std::uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0};
    if (major == 1) {
        out.push_back(static_cast<std::uint8_t>(h.size() & 0xFF));
        out.push_back(static_cast<std::uint8_t>(h.size() >> 8));
    } else {
        for (int k = 0; k < 4; ++k) out.push_back(static_cast<std::uint8_t>((h.size() >> (8 * k)) & 0xFF));
    }
    out.insert(out.end(), h.begin(), h.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

std::vector<std::uint8_t> f32_bytes(std::initializer_list<float> v) {
    std::vector<std::uint8_t> out(v.size() * 4);
    std::memcpy(out.data(), v.begin(), out.size());
    return out;
}

// The formula of tests/golden/golden_io.py: element at flat row-major index n.
long double expected_value(char kind, std::size_t size, long n) {
    switch (kind) {
        case 'b': return n % 3 == 0 ? 1 : 0;
        case 'f': return (n - 10) * 0.25L;
        case 'i': return (n - 12) * 5.0L - (size == 8 ? 1099511627776.0L : 0.0L);
        default: return n * 7.0L + (size == 8 ? 1099511627776.0L : 0.0L);
    }
}

struct golden_case {
    const char* tag;
    io::dtype type;
    char kind;
    std::size_t size;
};
}  // namespace

TEST_CASE("npy: NumPy files of every dtype, byte order and memory order read back exactly", "[io][npy]") {
    const golden_case cases[] = {
        {"b1", io::dtype::boolean, 'b', 1}, {"i1", io::dtype::i8, 'i', 1},     {"u1", io::dtype::u8, 'u', 1},
        {"le_i2", io::dtype::i16, 'i', 2},  {"be_i2", io::dtype::i16, 'i', 2}, {"le_u2", io::dtype::u16, 'u', 2},
        {"be_u2", io::dtype::u16, 'u', 2},  {"le_i4", io::dtype::i32, 'i', 4}, {"be_i4", io::dtype::i32, 'i', 4},
        {"le_u4", io::dtype::u32, 'u', 4},  {"be_u4", io::dtype::u32, 'u', 4}, {"le_i8", io::dtype::i64, 'i', 8},
        {"be_i8", io::dtype::i64, 'i', 8},  {"le_u8", io::dtype::u64, 'u', 8}, {"be_u8", io::dtype::u64, 'u', 8},
        {"le_f2", io::dtype::f16, 'f', 2},  {"be_f2", io::dtype::f16, 'f', 2}, {"le_f4", io::dtype::f32, 'f', 4},
        {"be_f4", io::dtype::f32, 'f', 4},  {"le_f8", io::dtype::f64, 'f', 8}, {"be_f8", io::dtype::f64, 'f', 8},
    };
    for (const auto& c : cases) {
        for (const char* order : {"C", "F"}) {
            const std::string path = golden + "npy_" + c.tag + "_" + order + ".npy";
            INFO(path);
            const io::tensor t = io::load_npy(path);
            CHECK(t.type() == c.type);
            CHECK(t.shape() == io::shape_type{2, 3, 4});
            // 64-bit integers through int64/uint64, the rest through double: exact either way.
            if (c.type == io::dtype::u64) {
                auto a = t.get<std::uint64_t, 3>();
                for (long n = 0; n < 24; ++n) CHECK(a.data()[n] == static_cast<std::uint64_t>(expected_value(c.kind, c.size, n)));
            } else if (c.type == io::dtype::i64) {
                auto a = t.get<std::int64_t, 3>();
                for (long n = 0; n < 24; ++n) CHECK(a.data()[n] == static_cast<std::int64_t>(expected_value(c.kind, c.size, n)));
            } else {
                auto a = t.get_as<double, 3>();
                for (long n = 0; n < 24; ++n) CHECK(a.data()[n] == static_cast<double>(expected_value(c.kind, c.size, n)));
                // multi-index access agrees with the flat formula (Fortran files are reordered)
                CHECK(a(1, 2, 3) == static_cast<double>(expected_value(c.kind, c.size, 23)));
                CHECK(a(1, 0, 2) == static_cast<double>(expected_value(c.kind, c.size, 14)));
            }
        }
    }
}

TEST_CASE("npy: special float values, 64-bit extremes, scalars, empty arrays, versions 2 and 3", "[io][npy]") {
    auto f4 = io::load_npy<float, 1>(golden + "npy_special_f4.npy");
    REQUIRE(f4.size() == 6);
    CHECK(f4(0) == 0.0f);
    CHECK(std::signbit(f4(0)));
    CHECK(f4(1) == std::numeric_limits<float>::infinity());
    CHECK(f4(2) == -std::numeric_limits<float>::infinity());
    CHECK(std::isnan(f4(3)));
    CHECK(f4(4) == std::numeric_limits<float>::denorm_min());
    CHECK(f4(5) == std::numeric_limits<float>::max());

    // big-endian float16 read as float: exact widening
    auto f2 = io::load_npy<float, 1>(golden + "npy_special_f2.npy");
    CHECK(std::signbit(f2(0)));
    CHECK(f2(1) == std::numeric_limits<float>::infinity());
    CHECK(f2(2) == -std::numeric_limits<float>::infinity());
    CHECK(std::isnan(f2(3)));
    CHECK(f2(4) == std::ldexp(1.0f, -24));
    CHECK(f2(5) == 65504.0f);

    auto i8 = io::load_npy<std::int64_t, 1>(golden + "npy_i8_extremes.npy");
    CHECK(i8(0) == std::numeric_limits<std::int64_t>::min());
    CHECK(i8(1) == std::numeric_limits<std::int64_t>::max());
    CHECK(i8(2) == -1);
    auto u8 = io::load_npy<std::uint64_t, 1>(golden + "npy_u8_extremes.npy");
    CHECK(u8(0) == std::numeric_limits<std::uint64_t>::max());
    CHECK(u8(1) == (std::uint64_t(1) << 63));

    const io::tensor s = io::load_npy(golden + "npy_scalar.npy");
    CHECK(s.shape().empty());
    CHECK(s.size() == 1);
    CHECK(s.get<double>()() == 3.5);
    auto e = io::load_npy<float, 2>(golden + "npy_empty.npy");
    CHECK(e.shape()[0] == 0);
    CHECK(e.shape()[1] == 3);

    for (const char* v : {"npy_v2.npy", "npy_v3.npy"}) {
        auto a = io::load_npy<float, 2>(golden + v);
        REQUIRE(a.shape()[0] == 2);
        REQUIRE(a.shape()[1] == 3);
        for (std::size_t i = 0; i < 6; ++i) CHECK(a.data()[i] == static_cast<float>(i));
    }
}

TEST_CASE("npy: round trips in both byte orders and both memory orders are exact", "[io][npy]") {
    xt::xtensor<float, 3> f = xt::xtensor<float, 3>::from_shape({3, 2, 5});
    for (std::size_t i = 0; i < f.size(); ++i) f.data()[i] = static_cast<float>(i) * 0.37f - 4.0f;
    xt::xtensor<std::int16_t, 2> s = {{-32768, 1, 2}, {32767, -5, 0}};
    xt::xtensor<bool, 1> b = {true, false, false, true};
    xt::xtensor<std::uint64_t, 1> u = {0u, std::numeric_limits<std::uint64_t>::max(), 12345678901234567ull};
    xt::xtensor<double, 0> scalar = 2.25;
    for (auto order : {io::byte_order::little, io::byte_order::big}) {
        for (bool fortran : {false, true}) {
            const io::npy_options opt{order, fortran};
            CHECK((io::parse_npy(io::to_npy_bytes(f, opt)).get<float, 3>() == f));
            CHECK((io::parse_npy(io::to_npy_bytes(s, opt)).get<std::int16_t, 2>() == s));
            CHECK((io::parse_npy(io::to_npy_bytes(b, opt)).get<bool, 1>() == b));
            CHECK((io::parse_npy(io::to_npy_bytes(u, opt)).get<std::uint64_t, 1>() == u));
            CHECK((io::parse_npy(io::to_npy_bytes(scalar, opt)).get<double, 0>() == scalar));
        }
    }
}

TEST_CASE("npy: the writer's bytes are what NumPy writes", "[io][npy]") {
    auto read_file = [](const std::string& path) {
        std::ifstream in(path, std::ios::binary);
        return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    // Byte-for-byte equal to np.save of the same array (header text, padding, data order).
    xt::xtensor<float, 3> f = xt::xtensor<float, 3>::from_shape({2, 3, 4});
    xt::xtensor<std::int16_t, 3> s = xt::xtensor<std::int16_t, 3>::from_shape({2, 3, 4});
    xt::xtensor<bool, 3> b = xt::xtensor<bool, 3>::from_shape({2, 3, 4});
    for (long n = 0; n < 24; ++n) {
        f.data()[n] = static_cast<float>(expected_value('f', 4, n));
        s.data()[n] = static_cast<std::int16_t>(expected_value('i', 2, n));
        b.data()[n] = expected_value('b', 1, n) != 0;
    }
    CHECK(io::to_npy_bytes(f) == read_file(golden + "npy_le_f4_C.npy"));
    CHECK(io::to_npy_bytes(f, {io::byte_order::little, true}) == read_file(golden + "npy_le_f4_F.npy"));
    CHECK(io::to_npy_bytes(f, {io::byte_order::big, false}) == read_file(golden + "npy_be_f4_C.npy"));
    CHECK(io::to_npy_bytes(s, {io::byte_order::big, true}) == read_file(golden + "npy_be_i2_F.npy"));
    CHECK(io::to_npy_bytes(b) == read_file(golden + "npy_b1_C.npy"));

    // The layout the format fixes: v1.0, 64-byte aligned data, header ending in '\n'.
    xt::xtensor<std::uint8_t, 1> v = {1, 2, 3};
    const auto vb = io::to_npy_bytes(v);
    REQUIRE(vb.size() == 128 + 3);
    CHECK(vb[6] == 1);
    CHECK(vb[8] == 118);
    CHECK(vb[127] == '\n');
    CHECK(vb[128] == 1);
    CHECK_THAT(std::string(vb.begin() + 10, vb.begin() + 128),
               Catch::StartsWith("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }"));
}

TEST_CASE("npy: header variations NumPy accepts are read", "[io][npy]") {
    const auto data = f32_bytes({1.0f, 2.0f});
    // double quotes, no trailing comma, keys in another order, no padding, Python 2 long
    auto t = io::parse_npy(npy_bytes("{\"shape\": (2L,), \"fortran_order\": False, \"descr\": \"<f4\"}", data, 1, false));
    CHECK(t.shape() == io::shape_type{2});
    CHECK(t.get<float, 1>()(1) == 2.0f);
    // '=' is the native order; trailing comma inside the tuple of a 2-d shape
    auto u = io::parse_npy(npy_bytes("{'descr': '=f4', 'fortran_order': True, 'shape': (1, 2,), }", data));
    CHECK(u.shape() == io::shape_type{1, 2});
}

TEST_CASE("npy: every malformed file is rejected with format_error", "[io][npy][reject]") {
    const auto two = f32_bytes({1.0f, 2.0f});
    auto rejects = [](const std::vector<std::uint8_t>& bytes, const std::string& message) {
        INFO(message);
        CHECK_THROWS_AS(io::parse_npy(bytes, "bad.npy"), format_error);
        CHECK_THROWS_WITH(io::parse_npy(bytes, "bad.npy"), Contains(message) && Contains("bad.npy"));
    };
    const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    SECTION("magic, version, truncation of the prefix") {
        rejects({}, "missing the \\x93NUMPY magic");
        rejects({'P', 'K', 3, 4, 0, 0, 0, 0}, "missing the \\x93NUMPY magic");
        rejects({0x93, 'N', 'U', 'M', 'P', 'Y'}, "truncated before the version");
        rejects({0x93, 'N', 'U', 'M', 'P', 'Y', 4, 0, 10, 0}, "unsupported format version 4.0");
        rejects({0x93, 'N', 'U', 'M', 'P', 'Y', 1, 1, 10, 0}, "unsupported format version 1.1");
        rejects({0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 10}, "truncated before the header length");
        rejects({0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 10, 0, 0}, "truncated before the header length");
    }
    SECTION("header length: huge, truncated") {
        rejects({0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xFF, 0xFF, 0xFF, 0xFF}, "exceeds the limit");
        auto b = npy_bytes(ok, two);
        b.resize(40);
        rejects(b, "truncated header");
    }
    SECTION("header contents") {
        rejects(npy_bytes("['descr', '<f4']", two), "must be a Python dict");
        rejects(npy_bytes("{'descr': '<f4', 'fortran_order': False}", two), "missing key 'shape'");
        rejects(npy_bytes("{'descr': '<f4', 'shape': (2,)}", two), "missing key 'fortran_order'");
        rejects(npy_bytes("{'fortran_order': False, 'shape': (2,)}", two), "missing key 'descr'");
        rejects(npy_bytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", two), "duplicate key 'descr'");
        rejects(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", two), "unexpected key 'extra'");
        rejects(npy_bytes("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", two), "must be True or False");
        rejects(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", two), "'shape' must be a tuple");
        rejects(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", two), "one-element tuple");
        rejects(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", two), "non-negative integers");
        rejects(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}", two), "overflows 64 bits");
        rejects(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} junk", two), "unexpected data after");
        rejects(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", two), "expected ',' or '}'");
        rejects(npy_bytes("{'descr: '<f4'}", two), "expected ':'");
        rejects(npy_bytes("{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,)}", two), "escapes");
        rejects(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), '\xc3\xa9': 1}", two), "non-ASCII byte");
    }
    SECTION("dtypes") {
        auto with = [&](const std::string& descr) {
            return npy_bytes("{'descr': '" + descr + "', 'fortran_order': False, 'shape': (2,), }", two);
        };
        rejects(with("<c8"), "complex numbers are not supported");
        rejects(with("|O"), "object arrays");
        rejects(with("|O8"), "object arrays");
        rejects(with("<f16"), "element size must be 1, 2, 4 or 8");
        rejects(with("<f1"), "no 1-byte NumPy float");
        rejects(with("|f4"), "only valid for 1-byte types");
        rejects(with("<U4"), "kind must be b");
        rejects(with("f4"), "byte-order character");
        rejects(with("<"), "too short");
        rejects(with("<b2"), "a bool is one byte");
        rejects(npy_bytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", two), "structured dtypes");
    }
    SECTION("data size: truncated, trailing, overflowing shapes") {
        rejects(npy_bytes(ok, f32_bytes({1.0f})), "truncated data");
        auto b = npy_bytes(ok, two);
        b.pop_back();
        rejects(b, "truncated data");
        rejects(npy_bytes(ok, f32_bytes({1.0f, 2.0f, 3.0f})), "4 unexpected bytes after the data");
        rejects(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", two),
                "overflows the address space");
        // a huge declared size that does not overflow must not be allocated before the check
        rejects(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }", two), "truncated data");
    }
    SECTION("every truncation of a valid file is rejected, never read out of bounds") {
        xt::xtensor<double, 2> a = {{1.0, 2.0}, {3.0, 4.0}};
        const auto full = io::to_npy_bytes(a, {io::byte_order::big, true});
        for (std::size_t n = 0; n < full.size(); ++n) {
            std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
            CHECK_THROWS_AS(io::parse_npy(cut), format_error);
        }
        CHECK((io::parse_npy(full).get<double, 2>() == a));
    }
}

TEST_CASE("npy: typed reads check dtype and rank", "[io][npy][reject]") {
    xt::xtensor<std::int32_t, 2> a = {{1, 2}, {3, 4}};
    const io::tensor t = io::parse_npy(io::to_npy_bytes(a));
    CHECK_THROWS_AS((t.get<float, 2>()), format_error);
    CHECK_THROWS_WITH((t.get<float, 2>()), Contains("stored as I32") && Contains("get_as"));
    CHECK_THROWS_AS((t.get<std::int16_t, 2>()), format_error);
    CHECK_THROWS_AS((t.get<std::int32_t, 3>()), shape_error);
    CHECK_THROWS_WITH((t.get<std::int32_t, 3>()), Contains("rank 2") && Contains("asked for rank 3"));
    CHECK((t.get<std::int64_t, 2>() == xt::xtensor<std::int64_t, 2>{{1, 2}, {3, 4}}));
    CHECK((t.get_as<float, 2>() == xt::xtensor<float, 2>{{1, 2}, {3, 4}}));
    CHECK((t.get<double, 2>() == xt::xtensor<double, 2>{{1, 2}, {3, 4}}));
}

TEST_CASE("npy: files are written atomically and OS failures are io_error", "[io][npy][atomic]") {
    const std::string dir = temp_dir() + "/atomic";
    ::mkdir(dir.c_str(), 0700);
    const std::string path = dir + "/a.npy";
    xt::xtensor<float, 1> a = {1.0f, 2.0f};
    io::save_npy(path, a);
    CHECK((io::load_npy<float, 1>(path) == a));
    CHECK(list_dir(dir) == std::vector<std::string>{"a.npy"});

    // A failing write (BF16 has no NumPy dtype) leaves the old file and no temporary behind.
    const io::tensor bf(io::dtype::bf16, {2}, {0x80, 0x3f, 0x00, 0x40});
    CHECK_THROWS_AS(io::save_npy(path, bf), value_error);
    CHECK_THROWS_WITH(io::save_npy(path, bf), Contains("no BF16 dtype"));
    CHECK((io::load_npy<float, 1>(path) == a));
    CHECK(list_dir(dir) == std::vector<std::string>{"a.npy"});

    // Overwriting replaces the whole file.
    xt::xtensor<float, 1> b = {5.0f, 6.0f, 7.0f};
    io::save_npy(path, b);
    CHECK((io::load_npy<float, 1>(path) == b));

    CHECK_THROWS_AS(io::save_npy(dir + "/missing/dir/x.npy", a), io_error);
    CHECK_THROWS_WITH(io::save_npy(dir + "/missing/dir/x.npy", a), Contains("missing/dir/x.npy"));
    CHECK_THROWS_AS(io::load_npy(dir + "/nope.npy"), io_error);
    CHECK_THROWS_WITH(io::load_npy(dir + "/nope.npy"), Contains("cannot open") && Contains("nope.npy"));
    CHECK_THROWS_AS(io::load_npy(dir), io_error);
    CHECK_THROWS_WITH(io::load_npy(dir), Contains("is a directory"));
}

}  // namespace test_io_npy
