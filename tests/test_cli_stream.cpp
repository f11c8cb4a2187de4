// Streamed compression of big checkpoints (tools/cli/stream.hpp, issue 10): the `compress`
// tool run in-process with tiny chunks, so every rank-2 weight a scheme handles row by row is
// cut into many blocks of rows compressed on two threads. For every quantization scheme and
// every (criterion, grouping, --store) the output must hold what the in-memory path writes
// (built here with the registry's scheme on whole tensors and io::save_compressed): the same
// metadata and description byte for byte, the same parts byte for byte. Errors must name
// positions in the whole tensor, and a failure (write error, SIGINT, bad input half way, an
// output that is not a regular file) must leave no output and no temporary file.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/api.hpp"

using namespace compress;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

// Compiled into the test_cli program together with test_cli.cpp (one unity TU, so the CLI is
// compiled once for both): everything here, test cases included, lives in its own namespace.
namespace cli_stream_test {

struct temp_dir {
    std::string path;
    temp_dir() {
        char tmpl[] = "/tmp/compress_test_stream_XXXXXX";
        const char* d = ::mkdtemp(tmpl);
        REQUIRE(d != nullptr);
        path = d;
    }
    ~temp_dir() {
        for (const auto& f : list()) ::unlink((path + "/" + f).c_str());
        ::rmdir(path.c_str());
    }
    std::string file(const std::string& n) const { return path + "/" + n; }
    std::vector<std::string> list() const {
        std::vector<std::string> v;
        if (DIR* d = ::opendir(path.c_str())) {
            while (auto* e = ::readdir(d)) {
                const std::string n = e->d_name;
                if (n != "." && n != "..") v.push_back(n);
            }
            ::closedir(d);
        }
        std::sort(v.begin(), v.end());
        return v;
    }
};

struct result {
    int code;
    std::string out, err;
};

result run(const std::vector<std::string>& args) {
    std::ostringstream out, err;
    cli::console c{out, err, false};
    const int code = cli::run(args, c);
    return {code, out.str(), err.str()};
}

/// Small chunks (and a chosen header reservation) for the duration of a test.
struct small_chunks {
    explicit small_chunks(std::size_t elements, std::size_t reserve = 0) {
        auto& s = cli::detail::stream_config();
        s.chunk_elements = elements;
        s.header_reserve = reserve;
    }
    ~small_chunks() { cli::detail::stream_config() = cli::detail::stream_settings{}; }
};

io::tensor random_tensor(io::dtype t, io::shape_type shape, std::mt19937& rng) {
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::size_t n = 1;
    for (auto s : shape) n *= s;
    xt::xtensor<float, 1> v = xt::xtensor<float, 1>::from_shape({n});
    for (auto& x : v) x = d(rng);
    if (t == io::dtype::f32) {
        io::tensor f(v);
        return io::tensor(io::dtype::f32, shape, std::vector<std::uint8_t>(f.data(), f.data() + f.nbytes()));
    }
    REQUIRE(t == io::dtype::bf16);
    std::vector<std::uint8_t> b(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t u;
        std::memcpy(&u, &v(i), 4);
        const auto h = static_cast<std::uint16_t>(u >> 16);  // truncation: any bf16 value will do
        compress::detail::store_le<std::uint16_t>(b.data() + 2 * i, h);
    }
    return io::tensor(io::dtype::bf16, shape, std::move(b));
}

/// A checkpoint: rank-2 weights of several shapes (rows not a multiple of the chunk, columns
/// not a multiple of 64, more than 256 columns), a conv weight, a bias.
std::map<std::string, io::tensor> checkpoint(io::dtype t, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::map<std::string, io::tensor> m;
    m.emplace("a.weight", random_tensor(t, {37, 64}, rng));
    m.emplace("b.weight", random_tensor(t, {50, 96}, rng));
    m.emplace("c.weight", random_tensor(t, {9, 160}, rng));
    m.emplace("d.weight", random_tensor(t, {40, 272}, rng));  // > 256 columns: 16-bit CSR column indices
    m.emplace("conv.weight", random_tensor(t, {4, 3, 2, 2}, rng));
    m.emplace("a.bias", random_tensor(t, {37}, rng));
    return m;
}

/// The file the in-memory path writes for the same command: every entry of `in_path` in a
/// model (the selected ones through `whole` on the whole tensor, the others copied), saved by
/// io::save_compressed. Built here with the library, independently of stream.hpp.
template <class Whole>
void write_in_memory(const std::string& in_path, const std::string& out_path, const std::set<std::string>& selected,
                     Whole whole) {
    const auto in = io::load_compressed(in_path);
    io::compressed_model m;
    for (const auto& e : in.entries()) {
        if (selected.count(e.name)) whole(m, in.file().view(e.parts.at("values")));
        else m.copy_entry(in, e);
    }
    io::save_compressed(out_path, m, in.user_metadata());
}

/// Two safetensors files hold the same content: the same metadata byte for byte (the user's
/// and the compressed-model description, with every entry's representation, shape, dtype,
/// attributes and parts), the same tensors with the same dtype, shape and bytes. Only the
/// order of the data section may differ (the streamed writer goes in input order, the
/// in-memory one sorts by element size).
void check_same_content(const std::string& streamed, const std::string& in_memory) {
    const auto a = io::load_safetensors(streamed);
    const auto b = io::load_safetensors(in_memory);
    CHECK(a.metadata() == b.metadata());
    auto na = a.names(), nb = b.names();
    std::sort(na.begin(), na.end());
    std::sort(nb.begin(), nb.end());
    REQUIRE(na == nb);
    for (const auto& name : nb) {
        INFO("part " << name);
        const auto va = a.view(name), vb = b.view(name);
        CHECK(va.type() == vb.type());
        CHECK(va.shape() == vb.shape());
        REQUIRE(va.nbytes() == vb.nbytes());
        CHECK(std::memcmp(va.data(), vb.data(), vb.nbytes()) == 0);
    }
}

const std::set<std::string> weights = {"a.weight", "b.weight", "c.weight", "d.weight", "conv.weight"};

/// Runs `args` (streamed) and checks its output against the in-memory path's; returns the
/// streamed output's entries.
template <class Whole>
io::compressed_file check_streamed(const temp_dir& dir, const std::vector<std::string>& args, Whole whole,
                                   const std::set<std::string>& selected = weights) {
    const auto r = run(args);
    INFO(r.err);
    REQUIRE(r.code == 0);
    const std::string ref = dir.file("in-memory.safetensors");
    write_in_memory(args[1], ref, selected, whole);
    check_same_content(args[2], ref);
    ::unlink(ref.c_str());
    return io::load_compressed(args[2]);
}

/// Counts the blocks of rows each tensor is written in (stream_settings::after_chunk).
struct chunk_counter {
    std::map<std::string, std::size_t> chunks;
    chunk_counter() {
        cli::detail::stream_config().after_chunk = [this](const std::string& n) { ++chunks[n]; };
    }
    ~chunk_counter() { cli::detail::stream_config().after_chunk = nullptr; }
};


TEST_CASE("cli stream: chunked quantization writes what the in-memory path writes, every scheme", "[cli][stream]") {
    temp_dir dir;
    const small_chunks chunks(200);  // 3 to 12 rows per chunk: many chunks per tensor, two threads
    for (const auto t : {io::dtype::f32, io::dtype::bf16}) {
        const std::string in = dir.file(std::string("in-") + io::dtype_name(t) + ".safetensors");
        io::save_safetensors(in, checkpoint(t, 7), {{"source", "test"}});
        for (const auto& s : cli::quant_schemes()) {
            INFO("scheme " << s.name << ", " << io::dtype_name(t));
            const std::string out = dir.file(std::string("q-") + s.name + ".safetensors");
            chunk_counter counted;
            const auto f = check_streamed(dir, {"quantize", in, out, "--scheme", s.name},
                                          [&](io::compressed_model& m, const io::tensor_view& v) {
                                              cli::quant_scheme(s.name).quantize(m, v);
                                          });
            CHECK(f.user_metadata() == io::metadata_map{{"source", "test"}});
            // per-channel and per-group schemes go in blocks of rows; per-tensor ones whole
            const std::string n = s.name;
            const bool rows = n != "int8-affine-tensor" && n != "fp16" && n != "bf16";
            CHECK(counted.chunks["b.weight"] == (rows ? 25u : 1u));  // [50, 96]: 2 rows a chunk
            CHECK(counted.chunks["conv.weight"] == 1u);
            CHECK(counted.chunks["a.bias"] == 0u);  // copied
        }
    }
    CHECK(dir.list().size() == 2 + cli::quant_schemes().size());  // no temporary file left
}

TEST_CASE("cli stream: pruning writes what the in-memory path writes, every grouping and --store", "[cli][stream]") {
    temp_dir dir;
    const small_chunks chunks(256);
    const std::string in = dir.file("in.safetensors");
    io::save_safetensors(in, checkpoint(io::dtype::bf16, 11), {{"source", "test"}});
    for (const auto& c : cli::criteria()) {
        for (const auto& g : cli::groupings()) {
            for (const auto& st : cli::stores()) {
                if (*st.grouping && std::string(st.grouping) != g.name) continue;  // the parser refuses these
                const std::string crit = c.name, grouping = g.name, store = st.name;
                INFO(crit << " " << grouping << " --store " << store);
                const double a = g.fixed_amount > 0 ? g.fixed_amount : 0.3;
                std::vector<std::string> args = {"prune", in, dir.file("p.safetensors"), "--criterion", crit,
                                                 "--grouping", grouping, "--store", store};
                if (g.fixed_amount < 0) args.insert(args.end(), {"--amount", "0.3"});
                if (c.seeded) args.insert(args.end(), {"--seed", "5"});
                const std::uint64_t seed = c.seeded ? 5 : 0;
                // 4x4 blocks need rows and columns that are multiples of 4: d [40, 272] and conv [4, 3·2·2]
                const bool square = grouping == "block4x4";
                if (square) args.insert(args.end(), {"--only", "^(d|conv)\\.weight$"});
                chunk_counter counted;
                const auto f = check_streamed(
                    dir, args,
                    [&](io::compressed_model& m, const io::tensor_view& v) {
                        cli::prune_scheme(crit, grouping).prune(m, v, a, seed, store);
                    },
                    square ? std::set<std::string>{"d.weight", "conv.weight"} : weights);
                const bool blocks = crit == "magnitude" && grouping == "2:4";
                CHECK(counted.chunks["b.weight"] == (blocks ? 25u : square ? 0u : 1u));
                CHECK(counted.chunks["d.weight"] == (blocks ? 10u : 1u));
                if (blocks) {
                    const std::string want = store == "masked" ? "masked" : store == "csr" ? "csr" : "n_of_m";
                    for (const char* w : {"a.weight", "b.weight", "c.weight", "d.weight"}) {
                        CHECK(f.entry(w).representation == want);
                    }
                    CHECK(f.entry("conv.weight").representation == "masked");
                }
            }
        }
    }
}

TEST_CASE("cli stream: the JSON summary of a streamed prune is the in-memory one's", "[cli][stream]") {
    temp_dir dir;
    const small_chunks chunks(256);
    const std::string in = dir.file("in.safetensors");
    io::save_safetensors(in, checkpoint(io::dtype::f32, 4));
    for (const std::string store : {"masked", "csr", "2:4"}) {
        INFO(store);
        const auto r = run({"--json", "prune", in, dir.file("p.safetensors"), "--grouping", "2:4", "--store", store});
        REQUIRE(r.code == 0);
        const auto j = compress::detail::json::parse(r.out, "cli output");
        const auto f = io::load_compressed(dir.file("p.safetensors"));
        std::size_t before = 0, after = 0;
        for (const auto& t : j.find("pruned")->items) {
            const auto& e = f.entry(t.find("name")->text);
            INFO(e.name);
            // magnitude 2:4 keeps exactly 2 of every 4 weights of every row
            CHECK(t.find("sparsity")->as_double() == 0.5);
            CHECK(t.find("representation")->text == e.representation);
            std::uint64_t b = 0;
            REQUIRE(t.find("bytes_after")->as_u64(b));
            std::size_t parts = 0;
            for (const auto& [role, part] : e.parts) parts += f.file().info(part).nbytes();
            CHECK(b == parts);
            after += parts;
            before += e.size() * 4;
        }
        std::uint64_t ja = 0, jb = 0;
        REQUIRE(j.find("bytes_after")->as_u64(ja));
        REQUIRE(j.find("bytes_before")->as_u64(jb));
        CHECK(ja == after);
        CHECK(jb == before);
        if (store == "masked") CHECK(f.entry("b.weight").attribute("sparsity") == std::to_string(0.5));
    }
}

TEST_CASE("cli stream: a header larger than its reservation moves the data behind it", "[cli][stream]") {
    temp_dir dir;
    const small_chunks chunks(200, 64);  // 64 bytes reserved: far too few
    const std::string in = dir.file("in.safetensors");
    io::save_safetensors(in, checkpoint(io::dtype::f32, 3), {{"note", std::string(5000, 'x')}});
    const std::string out = dir.file("q.safetensors");
    check_streamed(dir, {"quantize", in, out, "--scheme", "int4-sym-g32"},
                   [](io::compressed_model& m, const io::tensor_view& v) { cli::quant_scheme("int4-sym-g32").quantize(m, v); });
    CHECK(dir.list() == std::vector<std::string>{"in.safetensors", "q.safetensors"});
}

TEST_CASE("cli stream: NaN in a later chunk is reported at its position in the whole tensor", "[cli][stream][reject]") {
    temp_dir dir;
    const small_chunks chunks(200);
    auto ck = checkpoint(io::dtype::f32, 5);
    // b.weight [50, 96]: element (41, 7), in the 21st chunk of 2 rows
    auto& b = ck.at("b.weight");
    auto bytes = b.bytes();
    const float nan = std::nanf("");
    std::memcpy(bytes.data() + 4 * (41 * 96 + 7), &nan, 4);
    b = io::tensor(b.type(), b.shape(), std::move(bytes));
    const std::string in = dir.file("in.safetensors");
    io::save_safetensors(in, ck);
    const std::string out = dir.file("q.safetensors");
    const auto r = run({"quantize", in, out, "--scheme", "int8-sym-channel"});
    CHECK(r.code == cli::exit_value);
    // the message the library gives for the whole tensor
    const auto f = io::load_compressed(in);
    std::string whole;
    try {
        io::compressed_model m;
        cli::quant_scheme("int8-sym-channel").quantize(m, f.file().view("b.weight"));
    } catch (const value_error& e) {
        whole = e.what();
    }
    REQUIRE_THAT(whole, Contains("(41, 7)"));
    CHECK(r.err == "compress: " + whole + "\n");
    CHECK(dir.list() == std::vector<std::string>{"in.safetensors"});  // nothing half-written
    // the same for 2:4 pruning in blocks of rows, with every store
    for (const std::string store : {"auto", "masked", "csr", "2:4"}) {
        INFO(store);
        const auto p = run({"prune", in, out, "--grouping", "2:4", "--store", store});
        CHECK(p.code == cli::exit_value);
        std::string whole_prune;
        try {
            io::compressed_model m;
            cli::prune_scheme("magnitude", "2:4").prune(m, f.file().view("b.weight"), 0.5, 0, store);
        } catch (const value_error& e) {
            whole_prune = e.what();
        }
        REQUIRE_THAT(whole_prune, Contains("(41, 7)"));
        CHECK(p.err == "compress: " + whole_prune + "\n");
        CHECK(dir.list() == std::vector<std::string>{"in.safetensors"});
    }
}

TEST_CASE("cli stream: SIGINT half way leaves the destination as it was and says so", "[cli][stream][reject]") {
    temp_dir dir;
    const small_chunks chunks(200);
    const std::string in = dir.file("in.safetensors");
    io::save_safetensors(in, checkpoint(io::dtype::bf16, 9));
    const std::string out = dir.file("q.safetensors");
    { std::ofstream(out) << "previous contents"; }
    int calls = 0;
    cli::detail::stream_config().after_tensor = [&](const std::string&) {
        if (++calls == 2) ::raise(SIGINT);  // the tool's handler catches it: the test goes on
    };
    const auto r = run({"quantize", in, out, "--scheme", "int8-sym-channel"});
    CHECK(r.code == cli::exit_interrupted);
    CHECK(r.code == 130);
    CHECK(r.err == "compress: interrupted: SIGINT received; '" + out + "' was not written (its temporary file is removed)\n");
    CHECK(calls == 2);
    CHECK(dir.list() == std::vector<std::string>{"in.safetensors", "q.safetensors"});
    std::ifstream kept(out);
    std::string text((std::istreambuf_iterator<char>(kept)), std::istreambuf_iterator<char>());
    CHECK(text == "previous contents");
    // the handler is the tool's only while it writes: the previous one is back
    struct sigaction now {};
    ::sigaction(SIGINT, nullptr, &now);
    CHECK(now.sa_handler != &cli::detail::on_interrupt);
}

TEST_CASE("cli stream: a write error (file size limit) half way leaves no partial file", "[cli][stream][reject]") {
    temp_dir dir;
    const std::string in = dir.file("in.safetensors");
    std::mt19937 rng(1);
    io::save_safetensors(in, {{"w", random_tensor(io::dtype::f32, {256, 256}, rng)},
                              {"v", random_tensor(io::dtype::f32, {256, 256}, rng)}});
    const std::string out = dir.file("q.safetensors");
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // child: files may not grow past 100 KB (the output is ~130 KB); EFBIG instead of SIGXFSZ
        ::signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim {100000, 100000};
        ::setrlimit(RLIMIT_FSIZE, &lim);
        std::ostringstream o, e;
        cli::console c{o, e, false};
        const int code = cli::run({"quantize", in, out, "--scheme", "int8-sym-channel"}, c);
        const std::string msg = e.str();
        (void)!::write(fds[1], msg.data(), msg.size());
        ::_exit(code);
    }
    ::close(fds[1]);
    std::string msg;
    char buf[512];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) msg.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == cli::exit_io);
    CHECK_THAT(msg, StartsWith("compress: io error: cannot write '" + out + "' (temporary file ") &&
                        Contains(", removed): File too large"));
    CHECK(dir.list() == std::vector<std::string>{"in.safetensors"});
}

TEST_CASE("cli stream: an output that is not a regular file is refused before anything is written",
          "[cli][stream][reject]") {
    temp_dir dir;
    const std::string in = dir.file("in.safetensors");
    io::save_safetensors(in, checkpoint(io::dtype::f32, 2));
    const auto dev = run({"quantize", in, "/dev/null", "--scheme", "int8-sym-channel"});
    CHECK(dev.code == cli::exit_io);
    CHECK(dev.err == "compress: io error: cannot write '/dev/null': it exists and is not a regular file (a device, FIFO or socket)\n");
    struct stat st {};
    REQUIRE(::stat("/dev/null", &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    const auto d = run({"prune", in, dir.path, "--grouping", "2:4"});
    CHECK(d.code == cli::exit_io);
    CHECK_THAT(d.err, Contains("it exists and is not a regular file (a directory)"));
    // --global (in memory, io::save_compressed) refuses them the same way
    const auto g = run({"prune", in, "/dev/null", "--global", "--amount", "0.5"});
    CHECK(g.code == cli::exit_io);
    CHECK(g.err == dev.err);
    const std::string fifo = dir.file("fifo");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const auto q = run({"quantize", in, fifo, "--scheme", "int4-sym-g32"});
    CHECK(q.code == cli::exit_io);
    CHECK(q.err == "compress: io error: cannot write '" + fifo + "': it exists and is not a regular file (a device, FIFO or socket)\n");
    struct stat fs {};
    REQUIRE(::stat(fifo.c_str(), &fs) == 0);
    CHECK(S_ISFIFO(fs.st_mode));
    ::unlink(fifo.c_str());
    CHECK(dir.list() == std::vector<std::string>{"in.safetensors"});
}

}  // namespace cli_stream_test
