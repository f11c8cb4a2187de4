// The `compress` tool run in-process: inspect, quantize and report on PyTorch-written and
// hand-made files, their JSON output, and the exit code and message of every failure.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <compress/kernels/cost_table.hpp>
#include <compress/sparse.hpp>

#include "cli/api.hpp"

using namespace compress;
using Catch::Matchers::Contains;
namespace json = compress::detail::json;

namespace {
const std::string golden = std::string(COMPRESS_GOLDEN_DIR) + "/io/";
const std::string mlp = golden + "mlp.safetensors";

std::string temp_dir() {
    static std::string dir;
    if (dir.empty()) {
        char tmpl[] = "/tmp/compress_test_cli_XXXXXX";
        const char* d = ::mkdtemp(tmpl);
        REQUIRE(d != nullptr);
        dir = d;
    }
    return dir;
}

struct result {
    int code;
    std::string out, err;
};

result run(std::vector<std::string> args, bool terminal = false) {
    std::ostringstream out, err;
    cli::console c{out, err, terminal};
    const int code = cli::run(args, c);
    return {code, out.str(), err.str()};
}

json::value run_json(std::vector<std::string> args) {
    args.push_back("--json");
    const auto r = run(args);
    INFO(r.err);
    REQUIRE(r.code == 0);
    return json::parse(r.out, "cli output");
}

const json::value& field(const json::value& v, const std::string& k) {
    const json::value* f = v.find(k);
    REQUIRE(f != nullptr);
    return *f;
}
std::uint64_t u64(const json::value& v) {
    std::uint64_t x = 0;
    REQUIRE(v.as_u64(x));
    return x;
}
const json::value& tensor_named(const json::value& list, const std::string& name) {
    for (const auto& t : list.items) {
        if (field(t, "name").text == name) return t;
    }
    FAIL("no tensor " << name);
    return list;
}
}  // namespace

TEST_CASE("cli inspect: a PyTorch-written file, text and JSON", "[cli]") {
    const auto r = run({"inspect", mlp});
    REQUIRE(r.code == 0);
    CHECK(r.err.empty());
    CHECK_THAT(r.out, Contains("6 tensors, 400 parameters"));
    CHECK_THAT(r.out, Contains("metadata: format=pt"));
    CHECK_THAT(r.out, Contains("net.2.weight  dense           F32    [12, 16]"));

    const auto j = run_json({"inspect", mlp});
    CHECK(field(j, "compressed_model").is_bool());
    CHECK_FALSE(field(j, "compressed_model").boolean);
    const auto& totals = field(j, "totals");
    // 16·8 + 16 + 12·16 + 12 + 4·12 + 4 parameters, 4 bytes each
    CHECK(u64(field(totals, "parameters")) == 400);
    CHECK(u64(field(totals, "bytes")) == 1600);
    CHECK(field(j, "tensors").items.size() == 6);
    const auto& w = tensor_named(field(j, "tensors"), "net.0.weight");
    CHECK(field(w, "dtype").text == "F32");
    CHECK(field(w, "shape").items.size() == 2);
    CHECK(u64(field(w, "bytes")) == 512);
    CHECK(field(w, "sparsity").as_double() == 0.0);
    CHECK(field(field(j, "metadata"), "format").text == "pt");
}

TEST_CASE("cli inspect: sparsity of dense and masked tensors", "[cli]") {
    const std::string path = temp_dir() + "/sparse.safetensors";
    xt::xtensor<float, 2> w = {{0.0f, 1.0f, 0.0f, 2.0f}, {0.0f, 0.0f, 3.0f, 0.0f}};  // 5 of 8 zero
    io::compressed_model m;
    m.add("w", w);
    m.add("m", io::masked_tensor<float, 1>{xt::xtensor<float, 1>{1.0f, 0.0f, 0.0f, 4.0f},
                                           mask<1>::from_flags(xt::xtensor<int, 1>{1, 0, 0, 1})});
    io::save_compressed(path, m);
    const auto j = run_json({"inspect", path});
    CHECK(field(j, "compressed_model").boolean);
    CHECK(field(tensor_named(field(j, "tensors"), "w"), "sparsity").as_double() == 0.625);
    CHECK(field(tensor_named(field(j, "tensors"), "m"), "sparsity").as_double() == 0.5);
    CHECK(field(tensor_named(field(j, "tensors"), "m"), "representation").text == "masked");
}

TEST_CASE("cli quantize: every scheme writes the library's quantized tensors, report measures them", "[cli]") {
    const auto orig = io::load_safetensors(mlp);
    const auto w0 = orig.get<float, 2>("net.0.weight");
    for (const auto& s : cli::quant_schemes()) {
        INFO(s.name);
        const std::string out = temp_dir() + "/q_" + s.name + ".safetensors";
        const auto r = run({"quantize", mlp, out, "--scheme", s.name});
        REQUIRE(r.code == 0);
        CHECK_THAT(r.out, Contains("quantized 3 tensors with " + std::string(s.name)));
        // a valid safetensors file; biases copied bit for bit; metadata kept
        const auto st = io::load_safetensors(out);
        CHECK(st.metadata().at("format") == "pt");
        CHECK((st.get<float, 1>("net.0.bias") == orig.get<float, 1>("net.0.bias")));
        const auto f = io::load_compressed(out);
        CHECK(f.entry("net.0.weight").representation == "quantized");
        CHECK(f.entry("net.0.bias").representation == "dense");
        CHECK(cli::scheme_name_of(f.entry("net.0.weight")) == s.name);

        // report: MSE against the dequantized weights, computed here independently
        const auto rep = run_json({"report", mlp, out});
        const auto& t = tensor_named(field(rep, "tensors"), "net.0.weight");
        const auto deq = cli::decode_entry(f, f.entry("net.0.weight"));
        double mse = 0.0;
        for (std::size_t i = 0; i < w0.size(); ++i) {
            const double d = static_cast<double>(w0.data()[i]) - deq.data()[i];
            mse += d * d;
        }
        mse /= static_cast<double>(w0.size());
        CHECK(field(t, "mse").as_double() == Approx(mse).epsilon(1e-12).margin(1e-15));
        CHECK(u64(field(t, "bytes_before")) == 512);
        const auto& bias = tensor_named(field(rep, "tensors"), "net.0.bias");
        CHECK(field(bias, "mse").as_double() == 0.0);
        CHECK(field(bias, "sqnr_db").is_null());  // exact: infinite SQNR
        CHECK(field(rep, "missing").items.empty());
    }
}

TEST_CASE("cli quantize: stored bytes are the packed layout's", "[cli]") {
    // net.0.weight is [16, 8]: hand-computed storage of codes + scales (+ zero points)
    const std::pair<const char*, std::uint64_t> expected[] = {
        {"int8-sym-channel", 16 * 8 + 16 * 4},    // int8 codes, a float scale per row
        {"int8-affine-tensor", 16 * 8 + 4 + 1},   // one scale, one int8 zero point
        {"int4-sym-g32", 16 * 4 + 16 * 4},        // two codes per byte, one group of 8 per row
        {"int2", 16 * 2 + 16 * 4},                // four codes per byte
        {"ternary", 16 * 16 + 16 * 4},            // two 64-bit planes per row
        {"binary", 16 * 8 + 16 * 4},              // one 64-bit word per row
        {"fp16", 16 * 16 + 4},                    // two bytes per code, scale 1
        {"fp8", 16 * 8 + 16 * 4},
    };
    for (const auto& [scheme, bytes] : expected) {
        INFO(scheme);
        const std::string out = temp_dir() + "/b_" + scheme + ".safetensors";
        REQUIRE(run({"quantize", mlp, out, "--scheme", scheme, "--only", "^net\\.0\\."}).code == 0);
        const auto j = run_json({"inspect", out});
        CHECK(u64(field(tensor_named(field(j, "tensors"), "net.0.weight"), "bytes")) == bytes);
        CHECK(field(tensor_named(field(j, "tensors"), "net.2.weight"), "representation").text == "dense");
    }
}

TEST_CASE("cli quantize: compressed inputs keep their compressed tensors", "[cli]") {
    const std::string a = temp_dir() + "/step1.safetensors", b = temp_dir() + "/step2.safetensors";
    REQUIRE(run({"quantize", mlp, a, "--scheme", "int4-sym-g32", "--only", "net\\.0\\.weight"}).code == 0);
    REQUIRE(run({"quantize", a, b, "--scheme", "int8-sym-channel"}).code == 0);
    const auto f1 = io::load_compressed(a);
    const auto f2 = io::load_compressed(b);
    CHECK(cli::scheme_name_of(f2.entry("net.0.weight")) == "int4-sym-g32");
    CHECK(cli::scheme_name_of(f2.entry("net.2.weight")) == "int8-sym-channel");
    using Q4 = quantized_tensor<int4, symmetric, per_group<32>, 2>;
    CHECK(f1.get<Q4>("net.0.weight") == f2.get<Q4>("net.0.weight"));
    // everything quantized already: nothing left to do is a usage error
    const auto r = run({"quantize", b, temp_dir() + "/step3.safetensors", "--scheme", "fp16"});
    CHECK(r.code == cli::exit_usage);
    CHECK_THAT(r.err, Contains("no tensor to quantize"));
}

TEST_CASE("cli: every failure has its exit code and message", "[cli][reject]") {
    const std::string dir = temp_dir() + "/fail";
    ::mkdir(dir.c_str(), 0700);
    SECTION("usage: exit 2") {
        const auto r = run({"quantize", mlp});
        CHECK(r.code == 2);
        CHECK_THAT(r.err, Contains("compress: usage: 'quantize' takes 2 files") && Contains("Try 'compress help'"));
        CHECK(r.out.empty());
        const auto nothing = run({"quantize", mlp, dir + "/x.st", "--scheme", "fp16", "--only", "^nothing$"});
        CHECK(nothing.code == 2);
        CHECK_THAT(nothing.err, Contains("whose name matches --only '^nothing$'"));
    }
    SECTION("io: exit 3") {
        const auto r = run({"inspect", dir + "/absent.safetensors"});
        CHECK(r.code == 3);
        CHECK_THAT(r.err, Contains("compress: io error: cannot open") && Contains("absent.safetensors"));
        const auto w = run({"quantize", mlp, dir + "/no/such/dir/out.st", "--scheme", "fp16"});
        CHECK(w.code == 3);
        CHECK_THAT(w.err, Contains("no/such/dir"));
        const auto d = run({"inspect", dir});
        CHECK(d.code == 3);
        CHECK_THAT(d.err, Contains("is a directory"));
    }
    SECTION("format: exit 4") {
        const std::string path = dir + "/truncated.safetensors";
        {
            std::ifstream in(mlp, std::ios::binary);
            std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            std::ofstream(path, std::ios::binary) << all.substr(0, all.size() - 10);
        }
        const auto r = run({"inspect", path});
        CHECK(r.code == 4);
        CHECK_THAT(r.err, Contains("compress: format error: safetensors") && Contains("point past the end of the data section"));
        const auto npy = run({"report", golden + "mlp_input.npy", mlp});
        CHECK(npy.code == 4);
        CHECK_THAT(npy.err, Contains("exceeds the limit"));
    }
    SECTION("value: exit 5") {
        const std::string nan = dir + "/nan.safetensors";
        xt::xtensor<float, 2> w = {{1.0f, std::nanf("")}, {0.5f, 2.0f}};
        io::save_safetensors(nan, {{"fc.weight", w}});
        const auto r = run({"quantize", nan, dir + "/out.st", "--scheme", "int8-sym-channel"});
        CHECK(r.code == 5);
        CHECK_THAT(r.err, Contains("compress: value error") && Contains("fc.weight") && Contains("NaN") && Contains("(0, 1)"));
        CHECK(::access((dir + "/out.st").c_str(), F_OK) != 0);  // nothing written

        const std::string other = dir + "/other.safetensors";
        io::save_safetensors(other, {{"net.0.weight", xt::xtensor<float, 2>{{1.0f}}}});
        const auto s = run({"report", mlp, other});
        CHECK(s.code == 5);
        CHECK_THAT(s.err, Contains("tensor 'net.0.weight' has shape [16, 8] in") && Contains("but [1, 1] in"));
        const std::string extra = dir + "/extra.safetensors";
        io::save_safetensors(extra, {{"fc9.weight", xt::xtensor<float, 2>{{1.0f}}}});
        const auto m = run({"report", mlp, extra});
        CHECK(m.code == 5);
        CHECK_THAT(m.err, Contains("tensor 'fc9.weight' of") && Contains("is not in"));
    }
    SECTION("--json errors are JSON on stdout too") {
        const auto r = run({"--json", "inspect", dir + "/absent.safetensors"});
        CHECK(r.code == 3);
        const auto j = json::parse(r.out, "cli output");
        const auto& e = field(j, "error");
        CHECK(field(e, "kind").text == "io");
        CHECK(u64(field(e, "exit_code")) == 3);
        CHECK_THAT(field(e, "message").text, Contains("absent.safetensors"));
    }
}

TEST_CASE("cli: the progress bar appears on a terminal only", "[cli]") {
    const std::string out = temp_dir() + "/progress.safetensors";
    const auto quiet = run({"quantize", mlp, out, "--scheme", "fp16"}, /*terminal=*/false);
    CHECK(quiet.err.empty());
    const auto tty = run({"quantize", mlp, out, "--scheme", "fp16"}, /*terminal=*/true);
    CHECK_THAT(tty.err, Contains("\r[") && Contains("/3 net."));
    CHECK(tty.err.back() == '\r');  // the line is cleared at the end
    const auto off = run({"quantize", mlp, out, "--scheme", "fp16", "--no-progress"}, true);
    CHECK(off.err.empty());
    const auto forced = run({"quantize", mlp, out, "--scheme", "fp16", "--progress"}, false);
    CHECK_THAT(forced.err, Contains("\r["));
    const auto json_tty = run({"quantize", mlp, out, "--scheme", "fp16", "--json"}, true);
    CHECK(json_tty.err.empty());
}

TEST_CASE("cli: help and version", "[cli]") {
    const auto h = run({"help"});
    CHECK(h.code == 0);
    CHECK_THAT(h.out, Contains("inspect FILE") && Contains("exit codes"));
    const auto q = run({"quantize", "--help"});
    CHECK_THAT(q.out, Contains("int4-sym-g32") && Contains("fp8"));
    CHECK_THAT(run({"--version"}).out, Contains("compress 0.1.0"));
}

namespace {
struct pruned {
    xt::xtensor<float, 2> orig, values;
    mask<2> keep;
};
pruned load_pruned(const std::string& path, const std::string& name) {
    const auto f = io::load_compressed(path);
    const auto m = f.get<io::masked_tensor<float, 2>>(name);
    return {io::load_safetensors(mlp).get<float, 2>(name), m.values, m.keep};
}
}  // namespace

TEST_CASE("cli prune: magnitude, unstructured and 2:4, per tensor", "[cli][prune]") {
    const std::string out = temp_dir() + "/pruned.safetensors";
    const auto r = run({"prune", mlp, out, "--amount", "0.5", "--store", "masked"});
    REQUIRE(r.code == 0);
    CHECK_THAT(r.out, Contains("pruned 3 tensors (magnitude, unstructured, amount 0.5000)"));
    for (const char* name : {"net.0.weight", "net.2.weight", "net.4.weight"}) {
        INFO(name);
        const auto p = load_pruned(out, name);
        CHECK(p.keep.pruned() == p.orig.size() / 2);  // every size here is even: exactly half
        float max_pruned = 0.0f, min_kept = 1e30f;
        for (std::size_t i = 0; i < p.orig.size(); ++i) {
            const float a = std::abs(p.orig.data()[i]);
            if (p.keep[i]) {
                min_kept = std::min(min_kept, a);
                CHECK(p.values.data()[i] == p.orig.data()[i]);
            } else {
                max_pruned = std::max(max_pruned, a);
                CHECK(p.values.data()[i] == 0.0f);
            }
        }
        CHECK(max_pruned <= min_kept);
    }
    // biases are not pruned
    CHECK(io::load_compressed(out).entry("net.0.bias").representation == "dense");

    const std::string nm = temp_dir() + "/pruned24.safetensors";
    REQUIRE(run({"prune", mlp, nm, "--grouping", "2:4", "--store", "masked"}).code == 0);
    for (const char* name : {"net.0.weight", "net.2.weight", "net.4.weight"}) {
        const auto p = load_pruned(nm, name);
        for (std::size_t r0 = 0; r0 < p.orig.shape()[0]; ++r0) {
            for (std::size_t g = 0; g + 4 <= p.orig.shape()[1]; g += 4) {
                int kept = 0;
                float min_kept = 1e30f, max_pruned = 0.0f;
                for (std::size_t k = g; k < g + 4; ++k) {
                    const float a = std::abs(p.orig(r0, k));
                    if (p.keep(r0, k)) { ++kept; min_kept = std::min(min_kept, a); }
                    else max_pruned = std::max(max_pruned, a);
                }
                CHECK(kept == 2);
                CHECK(max_pruned <= min_kept);
            }
        }
    }
}

TEST_CASE("cli prune: rows, blocks, global, random with a seed", "[cli][prune]") {
    const std::string rows = temp_dir() + "/rows.safetensors";
    REQUIRE(run({"prune", mlp, rows, "--grouping", "rows", "--amount", "0.25", "--only", "net\\.0\\.weight", "--store", "masked"}).code == 0);
    {
        const auto p = load_pruned(rows, "net.0.weight");  // 16 rows: 4 pruned, those of smallest L2 norm
        std::vector<double> norms(16, 0.0);
        for (std::size_t r0 = 0; r0 < 16; ++r0)
            for (std::size_t c = 0; c < 8; ++c) norms[r0] += static_cast<double>(p.orig(r0, c)) * p.orig(r0, c);
        double max_pruned = 0.0, min_kept = 1e30;
        std::size_t pruned_rows = 0;
        for (std::size_t r0 = 0; r0 < 16; ++r0) {
            bool all_kept = true, none_kept = true;
            for (std::size_t c = 0; c < 8; ++c) (p.keep(r0, c) ? none_kept : all_kept) = false;
            CHECK((all_kept || none_kept));
            if (none_kept) { ++pruned_rows; max_pruned = std::max(max_pruned, norms[r0]); }
            else min_kept = std::min(min_kept, norms[r0]);
        }
        CHECK(pruned_rows == 4);
        CHECK(max_pruned <= min_kept);
        CHECK(io::load_compressed(rows).entry("net.2.weight").representation == "dense");
    }
    const std::string blocks = temp_dir() + "/blocks.safetensors";
    REQUIRE(run({"prune", mlp, blocks, "--grouping", "block4x4", "--amount", "0.5", "--only", "net\\.0\\.weight", "--store", "masked"}).code == 0);
    {
        const auto p = load_pruned(blocks, "net.0.weight");  // [16, 8]: 8 blocks of 4x4, 4 pruned
        std::size_t pruned_blocks = 0;
        for (std::size_t br = 0; br < 4; ++br) {
            for (std::size_t bc = 0; bc < 2; ++bc) {
                std::size_t k = 0;
                for (std::size_t i = 0; i < 4; ++i)
                    for (std::size_t j = 0; j < 4; ++j) k += p.keep(4 * br + i, 4 * bc + j);
                CHECK((k == 0 || k == 16));
                pruned_blocks += k == 0;
            }
        }
        CHECK(pruned_blocks == 4);
    }
    const std::string global = temp_dir() + "/global.safetensors";
    const auto g = run_json({"prune", mlp, global, "--amount", "0.5", "--global", "--store", "masked"});
    {
        // 128 + 192 + 48 = 368 weights ranked together: 184 pruned, all below every kept one
        std::size_t pruned_total = 0;
        float max_pruned = 0.0f, min_kept = 1e30f;
        for (const char* name : {"net.0.weight", "net.2.weight", "net.4.weight"}) {
            const auto p = load_pruned(global, name);
            pruned_total += p.keep.pruned();
            for (std::size_t i = 0; i < p.orig.size(); ++i) {
                const float a = std::abs(p.orig.data()[i]);
                if (p.keep[i]) min_kept = std::min(min_kept, a);
                else max_pruned = std::max(max_pruned, a);
            }
        }
        CHECK(pruned_total == 184);
        CHECK(max_pruned <= min_kept);
        CHECK(field(g, "sparsity").as_double() == Approx(0.5));
        CHECK(field(g, "grouping").text == "unstructured (global)");
    }
    auto read_bytes = [](const std::string& p) {
        std::ifstream in(p, std::ios::binary);
        return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    };
    const std::string r1 = temp_dir() + "/rnd1.safetensors", r2 = temp_dir() + "/rnd2.safetensors",
                      r3 = temp_dir() + "/rnd3.safetensors";
    REQUIRE(run({"prune", mlp, r1, "--criterion", "random", "--seed", "7", "--amount", "0.5", "--store", "masked"}).code == 0);
    REQUIRE(run({"prune", mlp, r2, "--criterion", "random", "--seed", "7", "--amount", "0.5", "--store", "masked"}).code == 0);
    REQUIRE(run({"prune", mlp, r3, "--criterion", "random", "--seed", "8", "--amount", "0.5", "--store", "masked"}).code == 0);
    CHECK(read_bytes(r1) == read_bytes(r2));
    CHECK(read_bytes(r1) != read_bytes(r3));
    CHECK(load_pruned(r1, "net.2.weight").keep.pruned() == 96);
}

TEST_CASE("cli prune: failures", "[cli][prune][reject]") {
    const std::string dir = temp_dir();
    const std::string nan = dir + "/prune_nan.safetensors";
    xt::xtensor<float, 2> w = {{1.0f, std::nanf("")}, {0.5f, 2.0f}};
    io::save_safetensors(nan, {{"fc.weight", w}});
    const auto r = run({"prune", nan, dir + "/prune_out.st", "--amount", "0.5"});
    CHECK(r.code == 5);
    CHECK_THAT(r.err, Contains("fc.weight") && Contains("NaN"));
    CHECK(::access((dir + "/prune_out.st").c_str(), F_OK) != 0);
    const auto none = run({"prune", mlp, dir + "/prune_out.st", "--amount", "0.5", "--only", "bias"});
    CHECK(none.code == 2);
    CHECK_THAT(none.err, Contains("no tensor to prune"));
    // 2:4 on rows whose length is not a multiple of 4
    const std::string odd = dir + "/odd.safetensors";
    io::save_safetensors(odd, {{"fc.weight", xt::xtensor<float, 2>{{1.0f, 2.0f, 3.0f}}}});
    const auto o = run({"prune", odd, dir + "/prune_out.st", "--grouping", "2:4"});
    CHECK(o.code == 5);
    CHECK_THAT(o.err, Contains("fc.weight"));
}

TEST_CASE("cli prune --store: csr, bsr4x4 and 2:4 hold the weights of the masked file", "[cli][prune][sparse]") {
    const std::string dir = temp_dir();
    struct row {
        std::vector<std::string> args;
        const char* store;
        const char* representation;
    };
    const row cases[] = {
        {{"--amount", "0.9"}, "csr", "csr"},
        {{"--grouping", "rows", "--amount", "0.5"}, "csr", "csr"},
        {{"--grouping", "block4x4", "--amount", "0.5"}, "bsr4x4", "bsr"},
        {{"--grouping", "2:4"}, "2:4", "n_of_m"},
    };
    for (const auto& c : cases) {
        INFO(c.store << " " << c.args[1]);
        const std::string masked = dir + "/store_masked.safetensors", sparse = dir + "/store_sparse.safetensors";
        auto args = std::vector<std::string>{"prune", mlp, masked};
        args.insert(args.end(), c.args.begin(), c.args.end());
        auto margs = args;
        margs.insert(margs.end(), {"--store", "masked"});
        REQUIRE(run(margs).code == 0);
        auto sargs = args;
        sargs[2] = sparse;
        sargs.insert(sargs.end(), {"--store", c.store});
        const auto r = run(sargs);
        INFO(r.err);
        REQUIRE(r.code == 0);
        const auto fm = io::load_compressed(masked);
        const auto fs = io::load_compressed(sparse);
        for (const char* name : {"net.0.weight", "net.2.weight", "net.4.weight"}) {
            INFO(name);
            CHECK(fs.entry(name).representation == c.representation);
            const auto m = fm.get<io::masked_tensor<float, 2>>(name);
            CHECK((cli::decode_entry(fs, fs.entry(name)) == m.values));
        }
        CHECK(fs.entry("net.0.bias").representation == "dense");
    }
}

TEST_CASE("cli prune --store: stored bytes, auto, rank-4 weights, report's kernel column", "[cli][prune][sparse]") {
    const std::string dir = temp_dir();
    auto inspect_bytes = [&](const std::string& path, const std::string& name) {
        const auto j = run_json({"inspect", path});
        return u64(field(tensor_named(field(j, "tensors"), name), "bytes"));
    };
    auto rep = [&](const std::string& path, const std::string& name) {
        return io::load_compressed(path).entry(name).representation;
    };
    // net.0.weight is [16, 8]; masked: 128 floats + 2 mask words = 528 bytes
    const std::string masked = dir + "/b_masked.safetensors";
    REQUIRE(run({"prune", mlp, masked, "--amount", "0.9", "--store", "masked"}).code == 0);
    CHECK(inspect_bytes(masked, "net.0.weight") == 528);
    const std::size_t kept = io::load_compressed(masked).get<io::masked_tensor<float, 2>>("net.0.weight").keep.kept();
    // csr: nnz floats + nnz one-byte column indices + 17 row pointers
    const std::string c = dir + "/b_csr.safetensors";
    REQUIRE(run({"prune", mlp, c, "--amount", "0.9", "--store", "csr"}).code == 0);
    CHECK(inspect_bytes(c, "net.0.weight") == kept * 5 + 17 * 4);
    // bsr4x4 at 50%: 4 of 8 blocks, 16 floats each, 4 block columns, 5 block-row pointers
    const std::string b = dir + "/b_bsr.safetensors";
    REQUIRE(run({"prune", mlp, b, "--grouping", "block4x4", "--amount", "0.5", "--store", "bsr4x4"}).code == 0);
    CHECK(inspect_bytes(b, "net.0.weight") == 4 * 16 * 4 + 4 + 5 * 4);
    // 2:4: 2 floats per group of 4 (2 groups per row) + one 64-bit word of positions per row
    const std::string nm = dir + "/b_nm.safetensors";
    REQUIRE(run({"prune", mlp, nm, "--grouping", "2:4", "--store", "2:4"}).code == 0);
    CHECK(inspect_bytes(nm, "net.0.weight") == 16 * 4 * 4 + 16 * 8);

    // auto: csr at 90% (smaller than masked), masked at 10% (csr would be 115*5+68 = 643 > 528)
    const std::string a90 = dir + "/auto90.safetensors", a10 = dir + "/auto10.safetensors";
    REQUIRE(run({"prune", mlp, a90, "--amount", "0.9"}).code == 0);
    REQUIRE(run({"prune", mlp, a10, "--amount", "0.1"}).code == 0);
    CHECK(rep(a90, "net.0.weight") == "csr");
    CHECK(rep(a10, "net.0.weight") == "masked");
    const std::string g = dir + "/auto_global.safetensors";
    const auto gj = run_json({"prune", mlp, g, "--amount", "0.9", "--global"});
    CHECK(rep(g, "net.2.weight") == "csr");
    CHECK(field(tensor_named(field(gj, "pruned"), "net.2.weight"), "representation").text == "csr");

    // a conv weight stays masked whatever the store: the sparse formats are matrices
    const std::string conv = dir + "/conv.safetensors", conv_out = dir + "/conv_csr.safetensors";
    xt::xtensor<float, 4> cw = xt::xtensor<float, 4>::from_shape({4, 2, 3, 3});
    for (std::size_t i = 0; i < cw.size(); ++i) cw.data()[i] = static_cast<float>(i % 7) - 3.0f;
    io::save_safetensors(conv, {{"conv.weight", cw}});
    REQUIRE(run({"prune", conv, conv_out, "--amount", "0.5", "--store", "csr"}).code == 0);
    CHECK(rep(conv_out, "conv.weight") == "masked");

    // report: error of the pruned weights (computed here), bytes, and the kernel column
    const auto j = run_json({"report", mlp, c, "--batch", "8"});
    CHECK(u64(field(j, "batch")) == 8);
    const auto& t = tensor_named(field(j, "tensors"), "net.0.weight");
    const auto orig = io::load_safetensors(mlp).get<float, 2>("net.0.weight");
    const auto keep = io::load_compressed(masked).get<io::masked_tensor<float, 2>>("net.0.weight").keep;
    double mse = 0.0;
    for (std::size_t i = 0; i < orig.size(); ++i) mse += keep[i] ? 0.0 : static_cast<double>(orig.data()[i]) * orig.data()[i];
    CHECK(field(t, "mse").as_double() == Approx(mse / 128.0).epsilon(1e-12));
    CHECK(u64(field(t, "bytes_before")) == 512);
    CHECK(u64(field(t, "bytes_after")) == kept * 5 + 17 * 4);
    CHECK(field(t, "kernel").text == "csr");
    const auto& bias = tensor_named(field(j, "tensors"), "net.0.bias");
    CHECK(field(bias, "kernel").text == "dense");
    CHECK(field(bias, "expected_speedup").is_null());
    CHECK(field(j, "cost_model").boolean);
    const double expected = expected_speedup<csr<float>>(16, 8, 8, 1.0 - static_cast<double>(kept) / 128.0);
    CHECK(field(t, "expected_speedup").as_double() == Approx(expected));
    CHECK(field(t, "expected_faster").boolean == (expected > 1.0));
    const auto q = dir + "/q_for_verdict.safetensors";
    REQUIRE(run({"quantize", mlp, q, "--scheme", "int8-sym-channel"}).code == 0);
    const auto qj = run_json({"report", mlp, q});
    const auto& qt = tensor_named(field(qj, "tensors"), "net.0.weight");
    CHECK(field(qt, "kernel").text == "int8-sym-channel");
    CHECK_THAT(field(qt, "cost_model_note").text, Contains("no cost model for quantized kernels"));
    // a sparse format the library writes but the tool's registry does not decode: a format error
    const auto odd = dir + "/bsr1x8.safetensors";
    io::compressed_model om;
    om.add("net.0.weight", bsr<float, 1, 8>::from_dense(orig));
    io::save_compressed(odd, om);
    const auto od = run({"report", mlp, odd});
    CHECK(od.code == 4);
    CHECK_THAT(od.err, Contains("tensor 'net.0.weight' is") && Contains("which this build of the tool cannot decode"));

    // failures of the new options
    const auto s1 = run({"prune", mlp, dir + "/x.st", "--amount", "0.5", "--store", "bsr4x4"});
    CHECK(s1.code == 2);
    CHECK_THAT(s1.err, Contains("--store bsr4x4 stores block4x4 masks; it needs --grouping block4x4, not unstructured"));
    const auto s2 = run({"prune", mlp, dir + "/x.st", "--grouping", "2:4", "--global", "--store", "2:4"});
    CHECK(s2.code == 2);
    const auto s3 = run({"prune", mlp, dir + "/x.st", "--amount", "0.5", "--store", "coo"});
    CHECK(s3.code == 2);
    CHECK_THAT(s3.err, Contains("unknown store 'coo' (auto, masked, csr, bsr4x4, 2:4)"));
    const auto b0 = run({"report", mlp, c, "--batch", "0"});
    CHECK(b0.code == 2);
    CHECK_THAT(b0.err, Contains("--batch needs an integer in [1, 1048576], got '0'"));
    const auto b1 = run({"inspect", mlp, "--batch", "4"});
    CHECK(b1.code == 2);
    CHECK_THAT(b1.err, Contains("'--batch' is not an option of 'inspect'"));
}
