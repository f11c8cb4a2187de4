// safetensors reading and writing: PyTorch-written files, round trips of every dtype, memory
// mapping, atomic writes, and every rejection of a malformed or hostile file.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <random>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <compress/io/npy.hpp>
#include <compress/io/safetensors.hpp>

// The whole file in its own namespace: it is compiled in one unity TU with the other files of its
// test program (tests/CMakeLists.txt), and its helpers have the same names as theirs.
namespace test_io_safetensors {

using namespace compress;
using Catch::Matchers::Contains;

namespace {
const std::string golden = std::string(COMPRESS_GOLDEN_DIR) + "/io/";

std::string temp_dir() {
    static std::string dir;
    if (dir.empty()) {
        char tmpl[] = "/tmp/compress_test_st_XXXXXX";
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
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::uint8_t> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A safetensors file by hand: 8-byte length (the header's, unless `declared` is given), header, data.
std::vector<std::uint8_t> st_bytes(const std::string& header, std::size_t data_size,
                                   std::uint64_t declared = ~std::uint64_t(0)) {
    const std::uint64_t len = declared == ~std::uint64_t(0) ? header.size() : declared;
    std::string all(8, '\0');
    for (int k = 0; k < 8; ++k) all[k] = static_cast<char>((len >> (8 * k)) & 0xFF);
    all += header;
    for (std::size_t i = 0; i < data_size; ++i) all += static_cast<char>(i);
    return std::vector<std::uint8_t>(all.begin(), all.end());
}

void rejects(const std::vector<std::uint8_t>& bytes, const std::string& message) {
    INFO(message);
    CHECK_THROWS_AS(io::read_safetensors(bytes, "bad.safetensors"), format_error);
    CHECK_THROWS_WITH(io::read_safetensors(bytes, "bad.safetensors"),
                      Contains(message) && Contains("safetensors 'bad.safetensors'"));
}
}  // namespace

TEST_CASE("safetensors: a PyTorch-written file of every dtype reads back as torch wrote it", "[io][safetensors]") {
    const auto f = io::load_safetensors(golden + "dtypes.safetensors");
    CHECK(f.size() == 10);
    CHECK(f.metadata().at("source") == "torch 1.13.0");
    const auto expect = io::load_npy<double, 3>(golden + "dtypes_as_f64.npy");  // torch's own conversions
    const char* names[] = {"bool", "u8", "i8", "i16", "i32", "i64", "f16", "bf16", "f32", "f64"};
    const io::dtype types[] = {io::dtype::boolean, io::dtype::u8,   io::dtype::i8,  io::dtype::i16, io::dtype::i32,
                               io::dtype::i64,     io::dtype::f16, io::dtype::bf16, io::dtype::f32, io::dtype::f64};
    for (std::size_t k = 0; k < 10; ++k) {
        INFO(names[k]);
        const auto& info = f.info(names[k]);
        CHECK(info.type == types[k]);
        CHECK(info.shape == io::shape_type{2, 6});
        const auto got = f.get_as<double, 2>(names[k]);
        for (std::size_t i = 0; i < 12; ++i) CHECK(got.data()[i] == expect.data()[k * 12 + i]);
    }
    // Exact reads: F16 and BF16 widen to float; BF16 of 1/3 is 0x3eab = 0.333984375.
    CHECK(f.get<float, 2>("bf16")(1, 0) == 0.333984375f);
    CHECK(f.get<float, 2>("f16")(1, 0) == 0.333251953125f);
    CHECK(f.get<bool, 2>("bool")(0, 2) == false);
    CHECK(f.get<bool, 2>("bool")(0, 0) == true);
    CHECK(f.get<std::int64_t, 2>("i64")(0, 0) == -2);  // torch truncates -2.5 toward zero
    CHECK(f.get<std::int64_t, 2>("i8")(1, 1) == -7);   // int8 widens exactly
}

TEST_CASE("safetensors: round trip of every dtype, metadata and unusual names is exact", "[io][safetensors]") {
    xt::xtensor<float, 2> w = {{1.5f, -2.0f, 0.0f}, {3.25f, 1e-30f, -1e30f}};
    xt::xtensor<double, 1> d = {1.0 / 3.0, -0.0};
    xt::xtensor<std::int8_t, 1> i8 = {-128, 127, 0};
    xt::xtensor<std::uint8_t, 2> u8 = {{0, 255}};
    xt::xtensor<std::int16_t, 1> i16 = {-32768, 32767};
    xt::xtensor<std::int32_t, 1> i32 = {-2147483647 - 1, 2147483647};
    xt::xtensor<std::int64_t, 1> i64 = {std::numeric_limits<std::int64_t>::min(), 42};
    xt::xtensor<bool, 1> b = {true, false, true};
    xt::xtensor<float, 0> scalar = 7.0f;
    xt::xtensor<float, 2> empty = xt::xtensor<float, 2>::from_shape({0, 4});
    const io::tensor h(io::dtype::f16, {2}, {0x00, 0x3c, 0x00, 0xc0});  // 1.0, -2.0
    const io::tensor bf(io::dtype::bf16, {1}, {0x80, 0x3f});             // 1.0
    const std::string uname = "layer.\xc3\xa9\xe2\x82\xac\"quoted\"\\";     // UTF-8, quotes, backslash
    const std::map<std::string, io::tensor> tensors = {
        {"w", w}, {"d", d}, {"i8", i8}, {"u8", u8}, {"i16", i16}, {"i32", i32}, {"i64", i64},
        {"b", b}, {"scalar", scalar}, {"empty", empty}, {"h", h}, {"bf", bf}, {uname, w}, {"", i8}};
    const io::metadata_map meta = {{"format", "pt"}, {"note", "line\nbreak \"q\" \xe2\x82\xac"}};
    const auto bytes = io::to_safetensors_bytes(tensors, meta);
    // the header length is a multiple of 8 and every tensor is aligned to its element size
    const auto f = io::read_safetensors(bytes);
    CHECK(f.header().data_start % 8 == 0);
    for (const auto& t : f.tensors()) CHECK(t.begin % io::dtype_size(t.type) == 0);
    CHECK(f.metadata() == meta);
    CHECK(f.size() == tensors.size());
    for (const auto& [name, t] : tensors) {
        INFO(name);
        REQUIRE(f.contains(name));
        CHECK(io::tensor(f[name]) == t);
    }
    CHECK((f.get<float, 2>("w") == w));
    CHECK((f.get<float, 2>(uname) == w));
    CHECK((f.get<double, 1>("d") == d));
    CHECK((f.get<std::int64_t, 1>("i64") == i64));
    CHECK((f.get<bool, 1>("b") == b));
    CHECK(f.get<float, 0>("scalar")() == 7.0f);
    CHECK(f.get<float, 2>("empty").shape()[1] == 4);
    CHECK((f.get<float, 1>("h") == xt::xtensor<float, 1>{1.0f, -2.0f}));
    CHECK(f.get<float, 1>("bf")(0) == 1.0f);
    CHECK(f.get<float>("w").dimension() == 2);
    // writing what was read gives the same bytes
    CHECK(io::to_safetensors_bytes(std::vector<io::tensor_view>{f["w"], f["d"], f["i8"], f["u8"], f["i16"], f["i32"],
                                                                f["i64"], f["b"], f["scalar"], f["empty"], f["h"],
                                                                f["bf"], f[uname], f[""]},
                                   meta) == bytes);
}

TEST_CASE("safetensors: the writer's layout is the documented one", "[io][safetensors]") {
    xt::xtensor<float, 1> a = {1.0f};
    xt::xtensor<std::int8_t, 1> c = {5, 6};
    xt::xtensor<double, 1> z = {2.0};
    const auto bytes = io::to_safetensors_bytes({{"a", a}, {"c", c}, {"z", z}}, {{"k", "v"}});
    std::uint64_t len = 0;
    std::memcpy(&len, bytes.data(), 8);
    const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(len));
    // larger element types first, then by name; padded with spaces to a multiple of 8
    CHECK(header ==
          "{\"__metadata__\":{\"k\":\"v\"},\"z\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
          "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
          "\"c\":{\"dtype\":\"I8\",\"shape\":[2],\"data_offsets\":[12,14]}}     ");
    CHECK(bytes.size() == 8 + len + 14);
    CHECK(bytes.back() == 6);
}

TEST_CASE("safetensors: large files are memory-mapped, small ones read", "[io][safetensors]") {
    const std::string path = temp_dir() + "/big.safetensors";
    xt::xtensor<float, 2> big = xt::xtensor<float, 2>::from_shape({600, 500});  // 1.2 MB
    for (std::size_t i = 0; i < big.size(); ++i) big.data()[i] = static_cast<float>(i % 1000) - 500.0f;
    xt::xtensor<std::int16_t, 1> small = {1, 2, 3};
    io::save_safetensors(path, {{"big", big}, {"small", small}});
    const auto f = io::load_safetensors(path);
    CHECK(f.mapped());
    CHECK(f.file_size() > io::mmap_threshold);
    CHECK((f.get<float, 2>("big") == big));
    CHECK((f.get<std::int16_t, 1>("small") == small));
    // a view keeps the mapping alive after the file object is gone
    io::tensor_view v;
    {
        const auto g = io::load_safetensors(path, io::map_mode::always);
        CHECK(g.mapped());
        v = g["big"];
    }
    CHECK((v.get<float, 2>() == big));
    const auto r = io::load_safetensors(path, io::map_mode::never);
    CHECK_FALSE(r.mapped());
    CHECK((r.get<float, 2>("big") == big));

    const std::string spath = temp_dir() + "/small.safetensors";
    io::save_safetensors(spath, {{"small", small}});
    CHECK_FALSE(io::load_safetensors(spath).mapped());
    CHECK(io::load_safetensors(spath, io::map_mode::always).mapped());
}

TEST_CASE("safetensors: writes are atomic and OS failures are io_error", "[io][safetensors][atomic]") {
    const std::string dir = temp_dir() + "/atomic";
    ::mkdir(dir.c_str(), 0700);
    const std::string path = dir + "/m.safetensors";
    xt::xtensor<float, 1> a = {1.0f, 2.0f};
    io::save_safetensors(path, {{"a", a}});
    const auto before = read_file(path);
    CHECK(list_dir(dir) == std::vector<std::string>{"m.safetensors"});

    // Failures after the temporary file was created leave the old file and no temporary.
    CHECK_THROWS_AS(io::save_safetensors(path, {{"__metadata__", a}}), value_error);
    CHECK_THROWS_WITH(io::save_safetensors(path, {{"__metadata__", a}}), Contains("'__metadata__' cannot be a tensor name"));
    CHECK_THROWS_AS(io::save_safetensors(path, {{"\xff", a}}), value_error);
    CHECK_THROWS_WITH(io::save_safetensors(path, {{"\xff", a}}), Contains("not valid UTF-8"));
    CHECK_THROWS_AS(io::save_safetensors(path, {{"a", a}}, {{"k", "\xc3"}}), value_error);
    const io::tensor t(a);
    CHECK_THROWS_AS(io::save_safetensors(path, std::vector<io::tensor_view>{t.view("x"), t.view("x")}), value_error);
    CHECK_THROWS_WITH(io::save_safetensors(path, std::vector<io::tensor_view>{t.view("x"), t.view("x")}),
                      Contains("two tensors named 'x'"));
    CHECK(read_file(path) == before);
    CHECK(list_dir(dir) == std::vector<std::string>{"m.safetensors"});

    CHECK_THROWS_AS(io::save_safetensors(dir + "/no/such/dir/m.safetensors", {{"a", a}}), io_error);
    CHECK_THROWS_WITH(io::save_safetensors(dir + "/no/such/dir/m.safetensors", {{"a", a}}),
                      Contains("cannot create a temporary file") && Contains("no/such/dir"));
    CHECK_THROWS_AS(io::load_safetensors(dir + "/absent.safetensors"), io_error);
    CHECK_THROWS_WITH(io::load_safetensors(dir + "/absent.safetensors"), Contains("absent.safetensors"));
    CHECK_THROWS_AS(io::load_safetensors(dir), io_error);
    CHECK_THROWS_AS(io::save_safetensors(dir, {{"a", a}}), io_error);  // rename over a directory fails
    CHECK(list_dir(dir) == std::vector<std::string>{"m.safetensors"});
}

TEST_CASE("atomic writes refuse a destination that exists and is not a regular file", "[io][atomic][reject]") {
    // Renaming the finished temporary file over a device, a directory or a FIFO would replace
    // it (as root even /dev/null or /dev/full): refused before anything is written.
    const std::string dir = temp_dir() + "/nonregular";
    ::mkdir(dir.c_str(), 0700);
    xt::xtensor<float, 1> a = {1.0f, 2.0f};
    const std::string device = "cannot write '/dev/null': it exists and is not a regular file (a device, FIFO or socket)";
    CHECK_THROWS_AS(io::save_safetensors("/dev/null", {{"a", a}}), io_error);
    CHECK_THROWS_WITH(io::save_safetensors("/dev/null", {{"a", a}}), "io error: " + device);
    CHECK_THROWS_WITH(io::save_npy("/dev/null", a), "io error: " + device);
    struct stat st {};
    REQUIRE(::stat("/dev/null", &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    if (::stat("/dev/full", &st) == 0) {
        CHECK_THROWS_WITH(io::save_safetensors("/dev/full", {{"a", a}}),
                          "io error: cannot write '/dev/full': it exists and is not a regular file (a device, FIFO or socket)");
        REQUIRE(::stat("/dev/full", &st) == 0);
        CHECK(S_ISCHR(st.st_mode));
    }
    const std::string sub = dir + "/sub";
    ::mkdir(sub.c_str(), 0700);
    CHECK_THROWS_WITH(io::save_safetensors(sub, {{"a", a}}),
                      "io error: cannot write '" + sub + "': it exists and is not a regular file (a directory)");
    const std::string fifo = dir + "/fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK_THROWS_WITH(io::save_safetensors(fifo, {{"a", a}}),
                      "io error: cannot write '" + fifo + "': it exists and is not a regular file (a device, FIFO or socket)");
    REQUIRE(::stat(fifo.c_str(), &st) == 0);
    CHECK(S_ISFIFO(st.st_mode));
    CHECK(list_dir(dir) == std::vector<std::string>{"fifo", "sub"});  // no temporary file
    // a symbolic link to a regular file is a regular destination (the link is replaced)
    const std::string target = dir + "/target.safetensors", link = dir + "/link.safetensors";
    io::save_safetensors(target, {{"a", a}});
    REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
    CHECK_NOTHROW(io::save_safetensors(link, {{"a", a}}));
    ::unlink(fifo.c_str());
    ::unlink(link.c_str());
    ::unlink(target.c_str());
    ::rmdir(sub.c_str());
    ::rmdir(dir.c_str());
}

TEST_CASE("safetensors: typed reads check name, dtype and rank", "[io][safetensors][reject]") {
    xt::xtensor<std::int64_t, 2> a = {{1, 2}};
    const auto f = io::read_safetensors(io::to_safetensors_bytes({{"a", a}}), "m.safetensors");
    CHECK_THROWS_AS(f.info("b"), format_error);
    CHECK_THROWS_WITH(f.info("b"), Contains("has no tensor named 'b'") && Contains("m.safetensors"));
    CHECK_THROWS_AS((f.get<float, 2>("a")), format_error);
    CHECK_THROWS_WITH((f.get<float, 2>("a")), Contains("tensor 'a' is stored as I64"));
    CHECK_THROWS_AS((f.get<std::int32_t, 2>("a")), format_error);
    CHECK_THROWS_AS((f.get<std::int64_t, 1>("a")), shape_error);
    CHECK_THROWS_WITH((f.get<std::int64_t, 1>("a")), Contains("tensor 'a' has shape [1, 2]"));
    CHECK((f.get_as<float, 2>("a") == xt::xtensor<float, 2>{{1.0f, 2.0f}}));
}

TEST_CASE("safetensors: malformed files are rejected with format_error", "[io][safetensors][reject]") {
    const std::string one = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    SECTION("valid baseline") { CHECK(io::read_safetensors(st_bytes(one, 8)).size() == 1); }
    SECTION("truncated files") {
        rejects({}, "truncated: 0 bytes");
        rejects({1, 0, 0}, "truncated: 3 bytes");
        rejects(st_bytes(one, 0, 1000), "truncated header: declares 1000 bytes");
        rejects(st_bytes(one, 4), "point past the end of the data section (4 bytes)");
        rejects(st_bytes(one, 0), "point past the end of the data section (0 bytes)");
        // every prefix of a valid file is rejected, none is read out of bounds
        const auto full = st_bytes(one, 8);
        for (std::size_t n = 0; n < full.size(); ++n) {
            CHECK_THROWS_AS(io::read_safetensors(std::vector<std::uint8_t>(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n))),
                            format_error);
        }
    }
    SECTION("huge declared sizes") {
        rejects(st_bytes(one, 8, 100000001), "declared header length 100000001 exceeds the limit");
        rejects(st_bytes(one, 8, ~std::uint64_t(0) - 1), "exceeds the limit");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[1000000000000],\"data_offsets\":[0,4000000000000]}}", 8),
                "point past the end");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8),
                "overflows the address space");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,99999999999999999999]}}", 8),
                "two non-negative integers");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,8]}}", 8),
                "'shape' must be an array of non-negative integers");
    }
    SECTION("bad offsets") {
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8), "end before they begin");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8),
                "shape [2] of F32 needs 8 bytes, data_offsets [0, 4] hold 4");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8), "[begin, end]");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,16]}}", 8), "[begin, end]");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-1,7]}}", 8), "two non-negative integers");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0.0,8]}}", 8), "two non-negative integers");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":\"0,8\"}}", 8), "[begin, end]");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "4 unused bytes before tensor 'a'");
        rejects(st_bytes(one, 12), "4 bytes after the last tensor are not part of any tensor");
    }
    SECTION("overlapping tensors") {
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12),
                "tensor 'b' [4, 12) overlaps tensor 'a' [0, 8)");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8),
                "overlaps tensor 'a'");
        // two tensors aliasing the same bytes in reverse order of the header
        rejects(st_bytes("{\"b\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                "tensor 'b' [4, 8) overlaps tensor 'a' [0, 8)");
    }
    SECTION("wrong dtypes and entries") {
        rejects(st_bytes("{\"a\":{\"dtype\":\"F128\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "unknown dtype 'F128'");
        rejects(st_bytes("{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "unknown dtype 'f32'");
        rejects(st_bytes("{\"a\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8), "unknown dtype 'C64'");
        rejects(st_bytes("{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "'dtype' must be a string");
        rejects(st_bytes("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "missing field 'dtype'");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8), "missing field 'shape'");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 0), "missing field 'data_offsets'");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8), "unknown field 'x'");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8), "'shape' must be an array");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8), "non-negative integers");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8), "non-negative integers");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2e0],\"data_offsets\":[0,8]}}", 8), "non-negative integers");
        rejects(st_bytes("{\"a\":[1,2]}", 0), "tensor 'a': entry must be an object, got an array");
        std::string deep = "{\"a\":{\"dtype\":\"F32\",\"shape\":[";
        for (int i = 0; i < 65; ++i) deep += "1,";
        deep += "1],\"data_offsets\":[0,4]}}";
        rejects(st_bytes(deep, 4), "rank 66 above 64");
        rejects(st_bytes("{\"__metadata__\":[],\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                "__metadata__ must be an object of strings");
        rejects(st_bytes("{\"__metadata__\":{\"k\":1},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                "__metadata__ value of 'k' must be a string, got a number");
    }
    SECTION("bad JSON") {
        rejects(st_bytes(" {}", 0), "must be a JSON object starting with '{'");
        rejects(st_bytes("[]", 0), "must be a JSON object starting with '{'");
        rejects(st_bytes("", 0), "must be a JSON object starting with '{'");
        rejects(st_bytes("{ ", 0), "header: invalid JSON at byte 2: expected a string as object key");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},}", 8), "expected a string as object key");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,],\"data_offsets\":[0,8]}}", 8), "unexpected character");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\" \"shape\":[2],\"data_offsets\":[0,8]}}", 8), "expected ',' or '}' in object");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x", 8), "unexpected data after the JSON value");
        rejects(st_bytes(std::string("{\"a\":1}\0", 8), 0), "unexpected data after");
        rejects(st_bytes("{\"a\":{},\"a\":{}}", 0), "duplicate key \"a\"");
        rejects(st_bytes("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "duplicate key \"dtype\"");
        rejects(st_bytes("{\"a\":tru}", 0), "expected 'true'");
        rejects(st_bytes("{\"a\":01}", 0), "leading zero");
        rejects(st_bytes("{\"a\":-}", 0), "expected a digit");
        rejects(st_bytes("{\"a\":1.}", 0), "expected a digit after '.'");
        rejects(st_bytes("{\"a\":1e}", 0), "expected a digit in exponent");
        rejects(st_bytes("{\"a\":NaN}", 0), "unexpected character");
        rejects(st_bytes("{\"a\":\"x\\q\"}", 0), "bad escape character");
        rejects(st_bytes("{\"a\":\"x\\u12G4\"}", 0), "bad hex digit");
        rejects(st_bytes("{\"a\":\"x\\u12\"}", 0), "bad hex digit");
        rejects(st_bytes("{\"a\":\"x", 0), "unterminated string");
        rejects(st_bytes(std::string("{\"a\":\"x\ty\"}"), 0), "control character in string");
        rejects(st_bytes("{\"a\":[1,2}", 0), "expected ',' or ']' in array");
        rejects(st_bytes("{/*c*/}", 0), "expected a string as object key");
        std::string nest = "{\"a\":";
        for (int i = 0; i < 100; ++i) nest += "[";
        for (int i = 0; i < 100; ++i) nest += "]";
        nest += "}";
        rejects(st_bytes(nest, 0), "nesting deeper than 64 levels");
        std::string longnum = "{\"a\":1";
        longnum += std::string(70, '0') + "}";
        rejects(st_bytes(longnum, 0), "number longer than 64 characters");
    }
    SECTION("non-UTF-8 and invalid Unicode names") {
        rejects(st_bytes("{\"\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "string is not valid UTF-8");
        rejects(st_bytes("{\"\xc3\":{}}", 0), "not valid UTF-8");            // truncated sequence
        rejects(st_bytes("{\"\xc0\xaf\":{}}", 0), "not valid UTF-8");        // overlong '/'
        rejects(st_bytes("{\"\xed\xa0\x80\":{}}", 0), "not valid UTF-8");    // encoded surrogate
        rejects(st_bytes("{\"\xf4\x90\x80\x80\":{}}", 0), "not valid UTF-8");  // above U+10FFFF
        rejects(st_bytes("{\"\\ud800\":{}}", 0), "unpaired high surrogate");
        rejects(st_bytes("{\"\\udc00\":{}}", 0), "unpaired low surrogate");
        rejects(st_bytes("{\"\\ud800\\u0041\":{}}", 0), "unpaired high surrogate");
        // escaped names decode to UTF-8 and are found by their decoded spelling
        const auto f = io::read_safetensors(
            st_bytes("{\"\\u00e9\\ud83d\\ude00\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1));
        CHECK(f.contains("\xc3\xa9\xf0\x9f\x98\x80"));
    }
}

TEST_CASE("safetensors: random corruptions never escape as anything but format_error", "[io][safetensors][reject]") {
    xt::xtensor<float, 2> w = {{1.0f, 2.0f}, {3.0f, 4.0f}};
    xt::xtensor<std::int8_t, 1> c = {1, 2, 3};
    const auto good = io::to_safetensors_bytes({{"fc.weight", w}, {"codes", c}}, {{"k", "v"}});
    std::mt19937 rng(20240607);
    std::size_t accepted = 0, rejected = 0;
    for (int trial = 0; trial < 3000; ++trial) {
        auto bytes = good;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int k = 0; k < flips; ++k) bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng());
        try {
            const auto f = io::read_safetensors(bytes);
            for (const auto& t : f.tensors()) (void)f.get_as<double>(t.name);  // every accepted tensor is readable
            ++accepted;
        } catch (const format_error&) {
            ++rejected;
        }
    }
    CHECK(rejected > 0);
    CHECK(accepted + rejected == 3000);
}

TEST_CASE("safetensors: float8 tensors read as float exactly", "[io][safetensors]") {
    // e4m3fn: 0x38 = 1.0, 0x7e = 448 (max), 0xff = NaN, 0x01 = 2^-9; e5m2: 0x3c = 1.0, 0x7c = Inf
    const io::tensor e4(io::dtype::f8_e4m3, {4}, {0x38, 0x7e, 0xff, 0x01});
    const io::tensor e5(io::dtype::f8_e5m2, {2}, {0x3c, 0xfc});
    const auto f = io::read_safetensors(io::to_safetensors_bytes({{"e4", e4}, {"e5", e5}}));
    CHECK(f.info("e4").type == io::dtype::f8_e4m3);
    const auto a = f.get<float, 1>("e4");
    CHECK(a(0) == 1.0f);
    CHECK(a(1) == 448.0f);
    CHECK(std::isnan(a(2)));
    CHECK(a(3) == std::ldexp(1.0f, -9));
    const auto b = f.get<float, 1>("e5");
    CHECK(b(0) == 1.0f);
    CHECK(b(1) == -std::numeric_limits<float>::infinity());
    CHECK_THROWS_AS((f.get<std::uint8_t, 1>("e4")), format_error);
    CHECK(f.view("e4").data()[1] == 0x7e);
}

}  // namespace test_io_safetensors
