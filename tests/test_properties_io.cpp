// Property tests of serialisation (issue 10): for random tensors of every dtype, random shapes
// (empty and scalar included), random names and metadata, writing and reading back is the
// identity — safetensors (bytes in memory and files on disk), .npy in both byte orders and both
// memory orders, and compressed models mixing dense, masked and quantized entries.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <compress/io.hpp>
#include <compress/prune.hpp>
#include <compress/quantize.hpp>

// The whole file in its own namespace: it is compiled in one unity TU with the other files of its
// test program (tests/CMakeLists.txt), and its helpers have the same names as theirs.
namespace test_properties_io {

using namespace compress;
namespace io = compress::io;

namespace {

const io::dtype all_dtypes[] = {io::dtype::boolean, io::dtype::u8,  io::dtype::i8,      io::dtype::u16,
                                io::dtype::i16,     io::dtype::u32, io::dtype::i32,     io::dtype::u64,
                                io::dtype::i64,     io::dtype::f16, io::dtype::bf16,    io::dtype::f32,
                                io::dtype::f64,     io::dtype::f8_e4m3, io::dtype::f8_e5m2};

io::shape_type random_shape(std::mt19937& rng) {
    const std::size_t rank = std::uniform_int_distribution<std::size_t>(0, 4)(rng);
    io::shape_type s(rank);
    for (auto& e : s) e = std::uniform_int_distribution<std::size_t>(rng() % 11 == 0 ? 0 : 1, 5)(rng);
    return s;
}

/// Random raw bytes (any bit pattern: NaN payloads, negative zeros, subnormals), booleans 0/1.
io::tensor random_tensor(io::dtype t, const io::shape_type& shape, std::mt19937& rng) {
    std::size_t n = 1;
    for (auto e : shape) n *= e;
    std::vector<std::uint8_t> bytes(n * io::dtype_size(t));
    for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
    if (t == io::dtype::boolean) for (auto& b : bytes) b &= 1u;
    return io::tensor(t, shape, std::move(bytes));
}

std::string random_name(std::mt19937& rng, int i) {
    static const char* pieces[] = {"fc", ".", "weight", "bias", "conv", "_", "\xc3\xa9", "\xe4\xb8\xad", "\"q\"", "\\", " ", "0"};
    std::string s = "t" + std::to_string(i);
    const int k = static_cast<int>(rng() % 5);
    for (int j = 0; j < k; ++j) s += pieces[rng() % (sizeof pieces / sizeof *pieces)];
    return s;
}

}  // namespace

TEST_CASE("properties: safetensors write/read is the identity for random tensors, names, metadata",
          "[properties][io]") {
    std::mt19937 rng(3001);
    for (int round = 0; round < 25; ++round) {
        std::map<std::string, io::tensor> tensors;
        const int count = static_cast<int>(rng() % 6);
        for (int i = 0; i < count; ++i) {
            const io::dtype t = all_dtypes[rng() % (sizeof all_dtypes / sizeof *all_dtypes)];
            tensors[random_name(rng, i)] = random_tensor(t, random_shape(rng), rng);
        }
        io::metadata_map md;
        if (rng() % 2) md["format"] = "pt";
        if (rng() % 2) md[random_name(rng, 99)] = random_name(rng, 98);
        const auto bytes = io::to_safetensors_bytes(tensors, md);
        CHECK(io::parse_safetensors_header(bytes.data(), bytes.size()).data_start % 8 == 0);  // header padded to 8
        const auto f = io::read_safetensors(bytes);
        CHECK(f.metadata() == md);
        REQUIRE(f.size() == tensors.size());
        for (const auto& [name, t] : tensors) {
            REQUIRE(f.contains(name));
            CHECK(io::tensor(f.view(name)) == t);
            // every tensor starts at a multiple of its element size
            CHECK((f.header().data_start + f.info(name).begin) % io::dtype_size(t.type()) == 0);
        }
        // writing what was read gives the same bytes
        std::vector<io::tensor_view> views;
        for (const auto& t : f.tensors()) views.push_back(f.view(t.name));
        CHECK(io::to_safetensors_bytes(views, f.metadata()) == bytes);
    }
}

TEST_CASE("properties: safetensors files on disk, read and mapped, round-trip", "[properties][io]") {
    std::mt19937 rng(3002);
    const std::string path = "properties_io_roundtrip.safetensors";
    for (int round = 0; round < 4; ++round) {
        std::map<std::string, io::tensor> tensors;
        for (int i = 0; i < 3; ++i) tensors[random_name(rng, i)] = random_tensor(io::dtype::f32, random_shape(rng), rng);
        io::save_safetensors(path, tensors);
        for (auto mode : {io::map_mode::never, io::map_mode::always}) {
            const auto f = io::load_safetensors(path, mode);
            for (const auto& [name, t] : tensors) CHECK(io::tensor(f.view(name)) == t);
        }
    }
    std::remove(path.c_str());
}

TEST_CASE("properties: .npy write/read is the identity in both byte orders and memory orders", "[properties][io]") {
    std::mt19937 rng(3003);
    const io::dtype npy_types[] = {io::dtype::boolean, io::dtype::u8,  io::dtype::i8,  io::dtype::u16, io::dtype::i16,
                                   io::dtype::u32,     io::dtype::i32, io::dtype::u64, io::dtype::i64, io::dtype::f16,
                                   io::dtype::f32,     io::dtype::f64};
    for (int round = 0; round < 60; ++round) {
        const io::dtype t = npy_types[rng() % (sizeof npy_types / sizeof *npy_types)];
        const io::tensor x = random_tensor(t, random_shape(rng), rng);
        for (const bool fortran : {false, true}) {
            for (const auto order : {io::byte_order::little, io::byte_order::big}) {
                const auto bytes = io::to_npy_bytes(x, {order, fortran});
                CHECK(bytes.size() % 64 == (x.nbytes() % 64));  // header padded to 64 bytes
                CHECK(io::parse_npy(bytes) == x);
            }
        }
    }
}

TEST_CASE("properties: compressed models of random dense, masked and quantized entries round-trip",
          "[properties][io][compressed]") {
    std::mt19937 rng(3004);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (int round = 0; round < 12; ++round) {
        const std::size_t R = 1 + rng() % 9, C = 1 + rng() % 70;
        xt::xtensor<float, 2> w = xt::xtensor<float, 2>::from_shape({R, C});
        for (auto& v : w) v = nd(rng);
        xt::xtensor<float, 1> b = xt::xtensor<float, 1>::from_shape({R});
        for (auto& v : b) v = nd(rng);
        auto pruned = w;
        const auto keep = compress::prune<magnitude>(pruned, std::uniform_real_distribution<double>(0.0, 1.0)(rng));
        const auto q8 = quantizer<int8, symmetric, per_channel<0>>{}.quantize(w);
        const auto q4 = quantizer<int4, affine, per_group<32>, minmax, nearest_even, fp16>{}.quantize(w);
        const auto qb = quantizer<binary, symmetric, per_channel<0>>{}.quantize(w);

        io::compressed_model m;
        m.add("dense", w);
        m.add("bias", b);
        m.add("masked", io::masked_tensor<float, 2>{pruned, keep});
        m.add("q8", q8);
        m.add("q4", q4);
        m.add("qb", qb);
        const auto f = io::read_compressed(io::to_compressed_bytes(m, {{"epoch", std::to_string(round)}}));
        CHECK(f.user_metadata() == io::metadata_map{{"epoch", std::to_string(round)}});
        CHECK((f.get<xt::xtensor<float, 2>>("dense") == w));
        CHECK((f.get<xt::xtensor<float, 1>>("bias") == b));
        const auto mt = f.get<io::masked_tensor<float, 2>>("masked");
        CHECK((mt.values == pruned));
        CHECK(mt.keep == keep);
        CHECK(f.get<std::decay_t<decltype(q8)>>("q8") == q8);
        CHECK(f.get<std::decay_t<decltype(q4)>>("q4") == q4);
        CHECK(f.get<std::decay_t<decltype(qb)>>("qb") == qb);
    }
}

// Bad-input catalogue row 23 (docs/reliability.md): the fuzz finding of
// fuzz/regressions/compressed/quantized-huge-described-shape as a test with its message. A
// description may claim any shape; the reader compares it with the parts the file holds
// before it allocates anything of that shape.
TEST_CASE("catalogue: a hostile quantized description cannot make the reader allocate", "[io][reject]") {
    using Q = quantizer<int8, symmetric, per_channel<0>>;
    xt::xtensor<float, 2> w = {{1.f, -2.f, 3.f, 0.5f, 0.f, 1.f, 2.f, -1.f}, {0.25f, 1.f, -1.f, 2.f, 3.f, -3.f, 1.f, 0.f}};
    io::compressed_model m;
    m.add("q", Q{}.quantize(w));
    const auto f = io::read_safetensors(io::to_compressed_bytes(m));
    auto md = f.metadata();
    std::string& d = md.at("compress");
    const std::string from = "\"shape\":[2,8]";
    const auto at = d.find(from);
    REQUIRE(at != std::string::npos);
    d.replace(at, from.size(), "\"shape\":[100000000,100000]");  // 10^13 weights, 10 TB of codes
    std::vector<io::tensor_view> views;
    for (const auto& t : f.tensors()) views.push_back(f[t.name]);
    const auto hostile = io::to_safetensors_bytes(views, md);
    auto load = [&] { return io::read_compressed(hostile, "hostile.safetensors").get<Q::tensor_type<2>>("q"); };
    CHECK_THROWS_AS(load(), format_error);
    CHECK_THROWS_WITH(load(), Catch::Matchers::Contains("hostile.safetensors") && Catch::Matchers::Contains("tensor 'q'") &&
                                  Catch::Matchers::Contains("part 'codes' ('q.codes') has shape [2, 8], expected [100000000, 100000]"));
}

}  // namespace test_properties_io
