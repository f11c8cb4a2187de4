// Compressed-model files: every representation round-trips exactly through a valid
// safetensors file, typed loads check the scheme, and hostile descriptions are rejected.
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include <compress/io.hpp>

// The whole file in its own namespace: it is compiled in one unity TU with the other files of its
// test program (tests/CMakeLists.txt), and its helpers have the same names as theirs.
namespace test_io_compressed {

using namespace compress;
using Catch::Matchers::Contains;

namespace {

template <class Q>
Q random_quantized(const typename Q::shape_type& shape, unsigned seed) {
    using F = typename Q::format;
    std::mt19937 rng(seed);
    Q q(shape);
    for (std::size_t r = 0; r < q.rows(); ++r) {
        for (std::size_t c = 0; c < q.cols(); ++c) {
            int v;
            if constexpr (F::family == format_family::binary) v = (rng() & 1) ? 1 : -1;
            else if constexpr (F::family == format_family::ternary) v = static_cast<int>(rng() % 3) - 1;
            else if constexpr (F::family == format_family::integer) v = F::qmin + static_cast<int>(rng() % (F::qmax - F::qmin + 1));
            else if constexpr (F::family == format_family::pow2) v = static_cast<int>(rng() % (1u << F::bits));
            else v = static_cast<int>(rng() % (F::bits == 8 ? 0x7Fu : 0x7BFFu));  // finite, positive floats
            q.set_code(r, c, v);
        }
    }
    for (std::size_t i = 0; i < q.num_scales(); ++i) {
        const float s = 0.001f * static_cast<float>(1 + rng() % 1000);
        if constexpr (std::is_same_v<typename Q::scale_format, float>) q.scales()[i] = s;
        else q.scales()[i] = detail::float_to_fp16(s);
        if constexpr (Q::has_zero_points) {
            q.zero_points()[i] = static_cast<typename Q::zero_point_type>(F::qmin + static_cast<int>(rng() % (F::qmax - F::qmin + 1)));
        }
    }
    return q;
}

template <class Q>
void check_round_trip(const typename Q::shape_type& shape, unsigned seed) {
    const Q q = random_quantized<Q>(shape, seed);
    io::compressed_model m;
    m.add("w", q);
    const auto bytes = io::to_compressed_bytes(m);
    const auto plain = io::read_safetensors(bytes);  // a valid safetensors file
    CHECK(plain.contains("w.codes"));
    CHECK(plain.contains("w.scales"));
    CHECK(plain.contains("w.zero_points") == Q::has_zero_points);
    const auto f = io::read_compressed(bytes);
    CHECK_FALSE(f.plain());
    const auto& e = f.entry("w");
    CHECK(e.representation == "quantized");
    CHECK(e.shape == io::shape_type(shape.begin(), shape.end()));
    const Q back = f.get<Q>("w");
    CHECK(back == q);
    CHECK((back.dequantize() == q.dequantize()));
    CHECK(back.bytes() == q.bytes());
}

// Re-saves a file with its description text transformed.
std::vector<std::uint8_t> retag(const std::vector<std::uint8_t>& bytes, const std::string& from, const std::string& to) {
    const auto f = io::read_safetensors(bytes);
    auto md = f.metadata();
    std::string& d = md.at("compress");
    const auto at = d.find(from);
    REQUIRE(at != std::string::npos);
    d.replace(at, from.size(), to);
    std::vector<io::tensor_view> views;
    for (const auto& t : f.tensors()) views.push_back(f[t.name]);
    return io::to_safetensors_bytes(views, md);
}

// Re-saves a file with one part tensor replaced.
std::vector<std::uint8_t> replace_part(const std::vector<std::uint8_t>& bytes, const std::string& name, const io::tensor& t) {
    const auto f = io::read_safetensors(bytes);
    std::vector<io::tensor_view> views;
    for (const auto& i : f.tensors()) views.push_back(i.name == name ? t.view(name) : f[i.name]);
    return io::to_safetensors_bytes(views, f.metadata());
}

void rejects(const std::vector<std::uint8_t>& bytes, const std::string& message) {
    INFO(message);
    CHECK_THROWS_AS(io::read_compressed(bytes, "m.safetensors"), format_error);
    CHECK_THROWS_WITH(io::read_compressed(bytes, "m.safetensors"), Contains(message) && Contains("m.safetensors"));
}
}  // namespace

TEST_CASE("compressed: quantized tensors of every format round-trip exactly", "[io][compressed]") {
    check_round_trip<quantized_tensor<int8, symmetric, per_channel<0>, 2>>({5, 7}, 1);
    check_round_trip<quantized_tensor<int8, affine, per_tensor, 2>>({3, 4}, 2);
    check_round_trip<quantized_tensor<uint8, affine, per_channel<1>, 2>>({4, 6}, 3);
    check_round_trip<quantized_tensor<uint8, symmetric, per_tensor, 1>>({9}, 4);
    check_round_trip<quantized_tensor<int4, symmetric, per_group<32>, 2>>({3, 70}, 5);
    check_round_trip<quantized_tensor<int4, symmetric, per_group<32>, 2, fp16>>({4, 64}, 6);
    check_round_trip<quantized_tensor<uint4, affine, per_group<8>, 2>>({2, 13}, 7);
    check_round_trip<quantized_tensor<int2, symmetric, per_channel<0>, 2>>({3, 9}, 8);
    check_round_trip<quantized_tensor<binary, symmetric, per_channel<0>, 2>>({3, 130}, 9);
    check_round_trip<quantized_tensor<ternary, symmetric, per_channel<0>, 2>>({2, 65}, 10);
    check_round_trip<quantized_tensor<pow2<3>, symmetric, per_tensor, 2>>({2, 5}, 11);
    check_round_trip<quantized_tensor<fp8_e4m3, symmetric, per_channel<0>, 2>>({3, 4}, 12);
    check_round_trip<quantized_tensor<fp16, symmetric, per_tensor, 2>>({2, 3}, 13);
    check_round_trip<quantized_tensor<int8, symmetric, per_channel<0>, 4>>({4, 2, 3, 3}, 14);  // conv weight
}

TEST_CASE("compressed: dense and masked tensors round-trip, plain files open as dense models", "[io][compressed]") {
    xt::xtensor<float, 2> w = {{1.0f, 0.0f, -2.0f}, {0.0f, 0.0f, 3.0f}};
    io::masked_tensor<float, 2> mt{w, mask<2>::from_flags(xt::xtensor<int, 2>{{1, 0, 1}, {0, 0, 1}})};
    xt::xtensor<double, 1> b = {0.5, -0.25};
    xt::xtensor<std::int32_t, 1> steps = {7};
    io::compressed_model m;
    m.add("fc.weight", mt);
    m.add("fc.bias", b);
    m.add("steps", steps);
    CHECK_THROWS_AS(m.add("fc.bias", b), value_error);
    const auto f = io::read_compressed(io::to_compressed_bytes(m, {{"epoch", "3"}}));
    CHECK(f.user_metadata() == io::metadata_map{{"epoch", "3"}});
    CHECK(f.entries().size() == 3);
    const auto back = f.get<io::masked_tensor<float, 2>>("fc.weight");
    CHECK((back.values == w));
    CHECK(back.keep == mt.keep);
    CHECK(f.entry("fc.weight").attribute("sparsity") == std::to_string(0.5));
    CHECK((f.get<xt::xtensor<double, 1>>("fc.bias") == b));
    CHECK(f.get<xt::xtensor<std::int32_t, 1>>("steps")(0) == 7);
    CHECK(f.entry("fc.bias").original_dtype == io::dtype::f64);

    const auto plain = io::read_compressed(io::to_safetensors_bytes({{"a", w}, {"b", b}}));
    CHECK(plain.plain());
    CHECK(plain.entries().size() == 2);
    CHECK(plain.entry("a").representation == "dense");
    CHECK((plain.get<xt::xtensor<float, 2>>("a") == w));
}

TEST_CASE("compressed: typed loads check representation, scheme and rank", "[io][compressed][reject]") {
    using Q8 = quantized_tensor<int8, symmetric, per_channel<0>, 2>;
    io::compressed_model m;
    m.add("q", random_quantized<Q8>({3, 4}, 1));
    m.add("d", xt::xtensor<float, 2>{{1.0f}});
    const auto f = io::read_compressed(io::to_compressed_bytes(m), "m.safetensors");
    using Q4 = quantized_tensor<int4, symmetric, per_group<32>, 2>;
    CHECK_THROWS_AS(f.get<Q4>("q"), format_error);
    CHECK_THROWS_WITH(f.get<Q4>("q"), Contains("tensor 'q': stored as quantized") && Contains("format=int8") &&
                                          Contains("asked for quantized") && Contains("format=int4"));
    CHECK_THROWS_AS((f.get<quantized_tensor<int8, symmetric, per_channel<1>, 2>>("q")), format_error);
    CHECK_THROWS_AS((f.get<quantized_tensor<int8, affine, per_channel<0>, 2>>("q")), format_error);
    CHECK_THROWS_AS((f.get<quantized_tensor<int8, symmetric, per_channel<0>, 2, fp16>>("q")), format_error);
    CHECK_THROWS_AS((f.get<quantized_tensor<int8, symmetric, per_channel<0>, 3>>("q")), format_error);
    CHECK_THROWS_WITH((f.get<quantized_tensor<int8, symmetric, per_channel<0>, 3>>("q")), Contains("asked for rank 3"));
    CHECK_THROWS_AS((f.get<xt::xtensor<float, 2>>("q")), format_error);
    CHECK_THROWS_AS(f.get<Q8>("d"), format_error);
    CHECK_THROWS_WITH(f.get<Q8>("d"), Contains("stored as dense"));
    CHECK_THROWS_AS((f.get<io::masked_tensor<float, 2>>("d")), format_error);
    CHECK_THROWS_AS(f.get<Q8>("missing"), format_error);
    CHECK_THROWS_WITH(f.get<Q8>("missing"), Contains("has no tensor named 'missing'"));
}

TEST_CASE("compressed: hostile descriptions and parts are rejected with format_error", "[io][compressed][reject]") {
    using Q = quantized_tensor<int4, affine, per_group<4>, 2>;
    const Q q = random_quantized<Q>({2, 8}, 3);
    io::compressed_model m;
    m.add("q", q);
    io::masked_tensor<float, 1> mt{xt::xtensor<float, 1>{1.0f, 0.0f, 2.0f}, mask<1>::from_flags(xt::xtensor<int, 1>{1, 0, 1})};
    m.add("m", mt);
    const auto good = io::to_compressed_bytes(m);
    REQUIRE(io::read_compressed(good).get<Q>("q") == q);

    SECTION("the document") {
        rejects(retag(good, "{\"format\"", "[{\"format\""), "invalid JSON");
        rejects(retag(good, "\"compress.model\"", "\"other\""), "\"format\" must be \"compress.model\"");
        rejects(retag(good, "\"version\":1", "\"version\":2"), "version 2 is newer than this reader (version 1)");
        rejects(retag(good, "\"version\":1", "\"version\":0"), "\"version\" must be a positive integer");
        rejects(retag(good, "\"version\":1", "\"version\":\"1\""), "\"version\" must be a positive integer");
        rejects(retag(good, "\"version\":1", "\"version\":1,\"x\":0"), "unknown field 'x'");
        rejects(retag(good, "\"tensors\":{", "\"tensors\":[],\"t\":{"), "\"tensors\" must be an object");
    }
    SECTION("entries") {
        rejects(retag(good, "\"representation\":\"quantized\"", "\"representation\":\"magic\""), "unknown representation 'magic'");
        rejects(retag(good, "\"representation\":\"quantized\"", "\"representation\":7"), "\"representation\" must be a string");
        rejects(retag(good, "\"shape\":[2,8]", "\"shape\":[2,-8]"), "\"shape\" must be an array");
        rejects(retag(good, "\"shape\":[2,8]", "\"shape\":[4294967296,4294967296]"), "overflows");
        rejects(retag(good, "\"dtype\":\"F32\",\"parts\":{\"codes\"", "\"dtype\":\"F33\",\"parts\":{\"codes\""), "\"dtype\" must be a safetensors dtype name");
        rejects(retag(good, "\"codes\":\"q.codes\",", ""), "quantized needs a part 'codes'");
        rejects(retag(good, "\"codes\":\"q.codes\"", "\"codes\":\"q.nothing\""), "names 'q.nothing', which the file does not hold");
        rejects(retag(good, "\"codes\":\"q.codes\"", "\"codes\":\"m.mask\""), "is also a part of tensor");
        rejects(retag(good, "\"codes\":\"q.codes\"", "\"codes\":\"q.codes\",\"extra\":\"q.codes\""), "is also a part");
        rejects(retag(good, "\"parts\":{\"mask\":\"m.mask\",", "\"parts\":{\"mask\":\"m.mask\",\"bits\":\"q.codes\","), "unknown part 'bits' for masked");
        rejects(retag(good, "\"attributes\":{\"format\"", "\"attributes\":{\"n\":1,\"format\""), "attribute 'n' must be a string");
        rejects(retag(good, "\"mask\":\"m.mask\",", ""), "masked needs a part 'mask'");
        rejects(retag(good, "\"representation\":\"masked\"", "\"representation\":\"masked\",\"x\":1"), "unknown field 'x'");
    }
    SECTION("unreferenced tensors") {
        const auto f = io::read_safetensors(good);
        std::vector<io::tensor_view> views;
        for (const auto& t : f.tensors()) views.push_back(f[t.name]);
        const io::tensor extra(xt::xtensor<float, 1>{1.0f});
        views.push_back(extra.view("stowaway"));
        rejects(io::to_safetensors_bytes(views, f.metadata()), "file tensor 'stowaway' is not part of any described tensor");
    }
    SECTION("parts inconsistent with the description (found on typed load)") {
        auto load_q = [](const std::vector<std::uint8_t>& b) { return io::read_compressed(b, "m.safetensors").get<Q>("q"); };
        auto load_m = [](const std::vector<std::uint8_t>& b) {
            return io::read_compressed(b, "m.safetensors").get<io::masked_tensor<float, 1>>("m");
        };
        // codes of the wrong shape or dtype
        const auto wrong_shape = replace_part(good, "q.codes", io::tensor(io::dtype::u8, {2, 5}, std::vector<std::uint8_t>(10)));
        CHECK_THROWS_AS(load_q(wrong_shape), format_error);
        CHECK_THROWS_WITH(load_q(wrong_shape), Contains("part 'codes' ('q.codes') has shape [2, 5], expected [2, 4]"));
        const auto wrong_type = replace_part(good, "q.codes", io::tensor(io::dtype::i8, {2, 4}, std::vector<std::uint8_t>(8)));
        CHECK_THROWS_WITH(load_q(wrong_type), Contains("part 'codes' ('q.codes') is I8, expected U8"));
        // negative scale, zero point out of range for uint4
        xt::xtensor<float, 2> neg = {{1.0f, -1.0f}, {1.0f, 1.0f}};
        const auto bad_scale = replace_part(good, "q.scales", io::tensor(neg));
        CHECK_THROWS_AS(load_q(bad_scale), format_error);
        CHECK_THROWS_WITH(load_q(bad_scale), Contains("tensor 'q'") && Contains("must be finite and >= 0"));
        const auto bad_zp = replace_part(good, "q.zero_points", io::tensor(xt::xtensor<std::int8_t, 2>{{0, 0}, {9, 0}}));
        CHECK_THROWS_WITH(load_q(bad_zp), Contains("zero point 2 is 9, outside [-8, 7]"));
        // a mask with bits past its last flag, a pruned value that is not zero
        const auto bad_mask = replace_part(good, "m.mask", io::tensor(xt::xtensor<std::uint64_t, 1>{0xFFu}));
        CHECK_THROWS_WITH(load_m(bad_mask), Contains("tensor 'm'") && Contains("bits set past its last flag"));
        const auto bad_values = replace_part(good, "m", io::tensor(xt::xtensor<float, 1>{1.0f, 5.0f, 2.0f}));
        CHECK_THROWS_WITH(load_m(bad_values), Contains("value at (1) is pruned by the mask but not zero"));
    }
}

// ------------------------------------------------------------------ sparse formats
namespace {

// A [rows, cols] matrix with about `keep` of its weights nonzero (others exactly zero), the
// nonzeros drawn away from zero so that none is zero by accident.
xt::xtensor<float, 2> sparse_matrix(std::size_t rows, std::size_t cols, double keep, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    xt::xtensor<float, 2> w = xt::zeros<float>({rows, cols});
    for (std::size_t i = 0; i < w.size(); ++i) {
        if (u(rng) < keep) w.data()[i] = (u(rng) + 0.5f) * ((rng() & 1) ? 1.0f : -1.0f);
    }
    return w;
}

// Keeps the first two nonzeros of every 4 consecutive inputs: a 2:4 pattern made here, not by prune.
xt::xtensor<float, 2> two_of_four(xt::xtensor<float, 2> w) {
    for (std::size_t r = 0; r < w.shape()[0]; ++r) {
        for (std::size_t g = 0; g < w.shape()[1]; g += 4) {
            std::size_t kept = 0;
            for (std::size_t c = g; c < std::min(g + 4, w.shape()[1]); ++c) {
                if (w(r, c) != 0.0f && ++kept > 2) w(r, c) = 0.0f;
            }
        }
    }
    return w;
}

template <class T>
std::vector<T> part_vector(const std::vector<std::uint8_t>& bytes, const std::string& name) {
    const auto f = io::read_safetensors(bytes);
    const auto v = f[name];
    std::vector<T> out(v.size());
    v.copy_to(out.data());
    return out;
}

template <class T>
io::tensor vec_tensor(const std::vector<T>& v, io::shape_type shape) {
    return detail::vector_tensor(v, std::move(shape));
}

template <class R>
void get_rejects(const std::vector<std::uint8_t>& bytes, const std::string& message) {
    INFO(message);
    const auto f = io::read_compressed(bytes, "m.safetensors");
    CHECK_THROWS_AS(f.get<R>("w"), format_error);
    CHECK_THROWS_WITH(f.get<R>("w"), Contains(message) && Contains("m.safetensors") && Contains("'w'"));
}

}  // namespace

TEST_CASE("compressed: csr, bsr and N:M matrices round-trip exactly", "[io][compressed][sparse]") {
    SECTION("csr: narrow column indices, explicit zeros kept") {
        for (std::size_t cols : {13u, 300u}) {  // U8 and U16 column indices
            INFO(cols);
            const auto w = sparse_matrix(7, cols, 0.2, 3);
            auto m = mask<2>::from_flags(xt::xtensor<int, 2>(xt::cast<int>(xt::not_equal(w, 0.0f))));
            m.set(0, true);  // keep w(0, 0) whether or not it is zero: an explicit entry
            const auto s = csr<float>::from_dense(w, m);
            io::compressed_model model;
            model.add("w", s);
            const auto bytes = io::to_compressed_bytes(model);
            const auto plain = io::read_safetensors(bytes);
            CHECK(plain["w.col_indices"].type() == (cols <= 256 ? io::dtype::u8 : io::dtype::u16));
            CHECK(plain["w.row_ptr"].type() == io::dtype::u32);
            CHECK(plain["w.values"].size() == s.nnz());
            const auto back = io::read_compressed(bytes).get<csr<float>>("w");
            CHECK(back.values() == s.values());
            CHECK(back.row_ptr() == s.row_ptr());
            CHECK(back.col_indices() == s.col_indices());
            CHECK(back.bytes() == s.bytes());
            CHECK((back.to_dense() == w));
            CHECK(io::read_compressed(bytes).entry("w").shape == io::shape_type{7, cols});
        }
    }
    SECTION("bsr<4,4>: a shape that is not a multiple of the block") {
        auto w = sparse_matrix(10, 13, 1.0, 5);
        // zero every block (4x4 grid) whose block row + block column is odd
        for (std::size_t i = 0; i < 10; ++i) {
            for (std::size_t j = 0; j < 13; ++j) {
                if ((i / 4 + j / 4) % 2) w(i, j) = 0.0f;
            }
        }
        const auto s = bsr<float, 4, 4>::from_dense(w);
        REQUIRE(s.nnz_blocks() == 6);  // 3 block rows x 4 block columns, half of them
        io::compressed_model model;
        model.add("w", s);
        const auto bytes = io::to_compressed_bytes(model);
        const auto plain = io::read_safetensors(bytes);
        CHECK(plain["w.values"].shape() == io::shape_type{6, 4, 4});
        CHECK(part_vector<std::uint32_t>(bytes, "w.row_ptr") == std::vector<std::uint32_t>{0, 2, 4, 6});
        CHECK(part_vector<std::uint32_t>(bytes, "w.col_indices") == std::vector<std::uint32_t>{0, 2, 1, 3, 0, 2});
        const auto f = io::read_compressed(bytes);
        CHECK(f.entry("w").attribute("block_rows") == "4");
        const auto back = f.get<bsr<float, 4, 4>>("w");
        CHECK(back.values() == s.values());
        CHECK(back.block_ptr() == s.block_ptr());
        CHECK(back.block_col_indices() == s.block_col_indices());
        CHECK((back.to_dense() == w));
        CHECK(back.bytes() == s.bytes());
    }
    SECTION("n_of_m_matrix<2,4>: a narrow last group and padded groups") {
        const auto w = two_of_four(sparse_matrix(5, 9, 0.6, 7));  // last group is 1 column wide
        const auto s = n_of_m_matrix<float, 2, 4>::from_dense(w);
        io::compressed_model model;
        model.add("w", s);
        const auto bytes = io::to_compressed_bytes(model);
        const auto plain = io::read_safetensors(bytes);
        CHECK(plain["w.values"].shape() == io::shape_type{5, 6});  // 3 groups x 2 per row
        CHECK(plain["w.indices"].shape() == io::shape_type{5, 1});  // 12 bits per row, one word
        CHECK(plain["w.indices"].type() == io::dtype::u64);
        const auto back = io::read_compressed(bytes).get<n_of_m_matrix<float, 2, 4>>("w");
        CHECK(back.values() == s.values());
        CHECK(back.codes() == s.codes());
        CHECK((back.to_dense() == w));
        CHECK(back.bytes() == s.bytes());
    }
}

TEST_CASE("compressed: hostile sparse arrays are rejected with format_error", "[io][compressed][sparse][reject]") {
    SECTION("csr") {
        const xt::xtensor<float, 2> w = {{1.0f, 0.0f, 2.0f}, {0.0f, 0.0f, 3.0f}, {4.0f, 5.0f, 0.0f}};
        io::compressed_model model;
        model.add("w", csr<float>::from_dense(w));
        const auto bytes = io::to_compressed_bytes(model);
        // row_ptr {0, 2, 3, 5}, col_indices {0, 2, 2, 0, 1}
        get_rejects<csr<float>>(replace_part(bytes, "w.row_ptr", vec_tensor<std::uint32_t>({0, 3, 2, 5}, {4})),
                                "row_ptr decreases at 1");
        get_rejects<csr<float>>(replace_part(bytes, "w.row_ptr", vec_tensor<std::uint32_t>({1, 2, 3, 5}, {4})),
                                "row_ptr[0] must be 0");
        get_rejects<csr<float>>(replace_part(bytes, "w.col_indices", vec_tensor<std::uint8_t>({0, 2, 3, 0, 1}, {5})),
                                "column index 3 in row 1 is out of range for 3 columns");
        get_rejects<csr<float>>(replace_part(bytes, "w.col_indices", vec_tensor<std::uint8_t>({2, 0, 2, 0, 1}, {5})),
                                "column indices of row 0 are not strictly increasing");
        get_rejects<csr<float>>(replace_part(bytes, "w.col_indices", vec_tensor<float>({0, 2, 2, 0, 1}, {5})),
                                "part 'col_indices' ('w.col_indices') is F32, expected U8, U16 or U32");
        get_rejects<csr<float>>(replace_part(bytes, "w.row_ptr", vec_tensor<std::uint32_t>({0, 2, 3, 6}, {4})),
                                "part 'col_indices' ('w.col_indices') has shape [5], expected [6]");
        get_rejects<csr<float>>(replace_part(bytes, "w.row_ptr", vec_tensor<std::uint32_t>({0, 2, 3}, {3})),
                                "part 'row_ptr' ('w.row_ptr') has shape [3], expected [4]");
        get_rejects<csr<double>>(bytes, "holds F32 values, asked for F64");
        get_rejects<bsr<float, 4, 4>>(bytes, "stored as csr, asked for bsr block_rows=4 block_cols=4");
        get_rejects<xt::xtensor<float, 2>>(bytes, "stored as csr, asked for dense F32");
    }
    SECTION("bsr") {
        xt::xtensor<float, 2> w = xt::zeros<float>({3, 6});  // a 2 x 3 grid of 2x2 blocks, the last row padded
        w(0, 0) = 1.0f;
        w(0, 4) = 2.0f;
        w(2, 3) = 3.0f;
        io::compressed_model model;
        model.add("w", bsr<float, 2, 2>::from_dense(w));
        const auto bytes = io::to_compressed_bytes(model);
        // block_ptr {0, 2, 3}, block columns {0, 2, 1}; block 2 holds row 2 and a padding row
        CHECK(part_vector<std::uint32_t>(bytes, "w.col_indices") == std::vector<std::uint32_t>{0, 2, 1});
        auto vals = part_vector<float>(bytes, "w.values");
        vals[2 * 4 + 2] = 9.0f;  // block 2, row 1 = matrix row 3: padding
        get_rejects<bsr<float, 2, 2>>(replace_part(bytes, "w.values", vec_tensor(vals, {3, 2, 2})),
                                      "block 2 (block row 1) has a nonzero value in its padding outside the matrix");
        get_rejects<bsr<float, 2, 2>>(replace_part(bytes, "w.col_indices", vec_tensor<std::uint8_t>({2, 0, 1}, {3})),
                                      "block columns of block row 0 are not strictly increasing");
        get_rejects<bsr<float, 2, 2>>(replace_part(bytes, "w.col_indices", vec_tensor<std::uint8_t>({0, 3, 1}, {3})),
                                      "block column 3 in block row 0 is out of range for 3 block columns");
        get_rejects<bsr<float, 2, 2>>(replace_part(bytes, "w.row_ptr", vec_tensor<std::uint32_t>({0, 3, 2}, {3})),
                                      "row_ptr decreases at 1");
        get_rejects<bsr<float, 4, 4>>(bytes, "stored as bsr block_cols=2 block_rows=2, asked for bsr block_rows=4 block_cols=4");
        get_rejects<bsr<float, 2, 2>>(retag(bytes, "\"block_rows\":\"2\"", "\"block_rows\":\"x\""),
                                      "asked for bsr block_rows=2 block_cols=2");
    }
    SECTION("N:M") {
        const xt::xtensor<float, 2> w = {{1.0f, 0.0f, 2.0f, 0.0f, 3.0f, 0.0f}};  // groups [0,4) and [4,6)
        io::compressed_model model;
        model.add("w", n_of_m_matrix<float, 2, 4>::from_dense(w));
        const auto bytes = io::to_compressed_bytes(model);
        // positions, 2 bits each: group 0 {0, 2}, group 1 {0 (3.0), 1 (padding)} -> 0b01'00'10'00
        REQUIRE(part_vector<std::uint64_t>(bytes, "w.indices") == std::vector<std::uint64_t>{0x48});
        get_rejects<n_of_m_matrix<float, 2, 4>>(replace_part(bytes, "w.indices", vec_tensor<std::uint64_t>({0x42}, {1, 1})),
                                                "row 0, group 0, slot 1: positions are not strictly increasing");
        get_rejects<n_of_m_matrix<float, 2, 4>>(replace_part(bytes, "w.indices", vec_tensor<std::uint64_t>({0xC8}, {1, 1})),
                                                "row 0, group 1, slot 1: position 3 is outside the group of 2 columns");
        get_rejects<n_of_m_matrix<float, 2, 4>>(replace_part(bytes, "w.indices", vec_tensor<std::uint64_t>({0x1048}, {1, 1})),
                                                "row 0 has bits set after its last position");
        get_rejects<n_of_m_matrix<float, 2, 4>>(replace_part(bytes, "w.values", vec_tensor<float>({1, 2, 3}, {1, 3})),
                                                "part 'values' ('w.values') has shape [1, 3], expected [1, 4]");
        get_rejects<n_of_m_matrix<float, 1, 4>>(bytes, "stored as n_of_m m=4 n=2, asked for n_of_m m=4 n=1");

        // a group narrower than N: its extra slot must be position 0, value 0
        const xt::xtensor<float, 2> narrow = {{1.0f, 0.0f, 0.0f, 2.0f, 5.0f}};  // last group: 1 column
        io::compressed_model m2;
        m2.add("w", n_of_m_matrix<float, 2, 4>::from_dense(narrow));
        const auto b2 = io::to_compressed_bytes(m2);
        auto v2 = part_vector<float>(b2, "w.values");
        REQUIRE(v2 == std::vector<float>{1, 2, 5, 0});
        v2[3] = 7.0f;
        get_rejects<n_of_m_matrix<float, 2, 4>>(replace_part(b2, "w.values", vec_tensor(v2, {1, 4})),
                                                "row 0, group 1, slot 1 lies past the end of the row but is not position 0 with value 0");
    }
}

}  // namespace test_io_compressed
