// Streamed compression of big checkpoints (tools/cli/stream.hpp, issue 10): the `compress`
// tool run in-process with tiny chunks, so every rank-2 weight is cut into many blocks of
// rows compressed on two threads. The output must hold exactly the parts the library's
// whole-tensor scheme gives (computed here independently with the registry's scheme on the
// whole tensor), errors must name positions in the whole tensor, and a failure (write error,
// SIGINT, bad input half way) must leave no output and no temporary file.
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
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.hpp"

using namespace compress;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

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
/// not a multiple of 64), a conv weight, a bias.
std::map<std::string, io::tensor> checkpoint(io::dtype t, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::map<std::string, io::tensor> m;
    m.emplace("a.weight", random_tensor(t, {37, 64}, rng));
    m.emplace("b.weight", random_tensor(t, {50, 96}, rng));
    m.emplace("c.weight", random_tensor(t, {9, 160}, rng));
    m.emplace("conv.weight", random_tensor(t, {4, 3, 2, 2}, rng));
    m.emplace("a.bias", random_tensor(t, {37}, rng));
    return m;
}

/// The part bytes of `name` in an opened file, by role.
std::map<std::string, std::vector<std::uint8_t>> part_bytes(const io::compressed_file& f, const io::compressed_entry& e) {
    std::map<std::string, std::vector<std::uint8_t>> out;
    for (const auto& [role, part] : e.parts) {
        const auto v = f.file().view(part);
        out[role] = std::vector<std::uint8_t>(v.data(), v.data() + v.nbytes());
    }
    return out;
}

/// Every entry of `out` equals what `whole(m, view)` writes for the whole input tensor
/// (selected entries) or the input entry itself (the others).
template <class Whole>
void check_same_as_whole(const std::string& in_path, const std::string& out_path, const std::set<std::string>& selected,
                         Whole whole) {
    const auto in = io::load_compressed(in_path);
    const auto out = io::load_compressed(out_path);
    REQUIRE(out.entries().size() == in.entries().size());
    for (const auto& e : in.entries()) {
        INFO("tensor " << e.name);
        const auto& got = out.entry(e.name);
        if (!selected.count(e.name)) {
            CHECK(got.representation == e.representation);
            CHECK(part_bytes(out, got) == part_bytes(in, e));
            continue;
        }
        io::compressed_model m;
        whole(m, in.file().view(e.parts.at("values")));
        const auto& want = m.entries().at(e.name);
        CHECK(got.representation == want.representation);
        CHECK(got.shape == want.shape);
        CHECK(got.original_dtype == want.original_dtype);
        CHECK(got.attributes == want.attributes);
        REQUIRE(got.parts == want.parts);
        for (const auto& [role, part] : want.parts) {
            INFO("part " << role);
            const auto& t = m.parts().at(part);
            const auto v = out.file().view(part);
            CHECK(v.type() == t.type());
            CHECK(v.shape() == t.shape());
            REQUIRE(v.nbytes() == t.nbytes());
            CHECK(std::memcmp(v.data(), t.data(), t.nbytes()) == 0);
        }
    }
}

}  // namespace

TEST_CASE("cli stream: chunked quantization writes exactly the whole-tensor scheme's parts", "[cli][stream]") {
    temp_dir dir;
    const small_chunks chunks(200);  // 3 to 12 rows per chunk: many chunks per tensor, two threads
    for (const auto t : {io::dtype::f32, io::dtype::bf16}) {
        const std::string in = dir.file(std::string("in-") + io::dtype_name(t) + ".safetensors");
        io::save_safetensors(in, checkpoint(t, 7), {{"source", "test"}});
        for (const auto& s : cli::quant_schemes()) {
            INFO("scheme " << s.name << ", " << io::dtype_name(t));
            const std::string out = dir.file(std::string("q-") + s.name + ".safetensors");
            const auto r = run({"quantize", in, out, "--scheme", s.name});
            INFO(r.err);
            REQUIRE(r.code == 0);
            check_same_as_whole(in, out, {"a.weight", "b.weight", "c.weight", "conv.weight"},
                                [&](io::compressed_model& m, const io::tensor_view& v) { cli::quant_scheme(s.name).quantize(m, v); });
            CHECK(io::load_compressed(out).user_metadata() == io::metadata_map{{"source", "test"}});
        }
    }
    CHECK(dir.list().size() == 2 + cli::quant_schemes().size());  // no temporary file left
}

TEST_CASE("cli stream: chunked 2:4 and whole-tensor pruning write the library's masks", "[cli][stream]") {
    temp_dir dir;
    const small_chunks chunks(256);
    const std::string in = dir.file("in.safetensors");
    io::save_safetensors(in, checkpoint(io::dtype::bf16, 11));
    for (const std::string g : {"2:4", "unstructured", "rows"}) {
        INFO("grouping " << g);
        const std::string out = dir.file("p.safetensors");
        std::vector<std::string> args = {"prune", in, out, "--grouping", g};
        if (g != "2:4") args.insert(args.end(), {"--amount", "0.3"});
        const auto r = run(args);
        INFO(r.err);
        REQUIRE(r.code == 0);
        const double a = g == "2:4" ? 0.5 : 0.3;
        check_same_as_whole(in, out, {"a.weight", "b.weight", "c.weight", "conv.weight"},
                            [&](io::compressed_model& m, const io::tensor_view& v) {
                                cli::prune_scheme("magnitude", g).prune(m, v, a, 0);
                            });
    }
}

TEST_CASE("cli stream: a header larger than its reservation moves the data behind it", "[cli][stream]") {
    temp_dir dir;
    const small_chunks chunks(200, 64);  // 64 bytes reserved: far too few
    const std::string in = dir.file("in.safetensors");
    io::save_safetensors(in, checkpoint(io::dtype::f32, 3), {{"note", std::string(5000, 'x')}});
    const std::string out = dir.file("q.safetensors");
    const auto r = run({"quantize", in, out, "--scheme", "int4-sym-g32"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    check_same_as_whole(in, out, {"a.weight", "b.weight", "c.weight", "conv.weight"},
                        [](io::compressed_model& m, const io::tensor_view& v) { cli::quant_scheme("int4-sym-g32").quantize(m, v); });
    CHECK(dir.list() == std::vector<std::string>{"in.safetensors", "q.safetensors"});
}

TEST_CASE("cli stream: NaN in a later chunk is reported at its position in the whole tensor", "[cli][stream][reject]") {
    temp_dir dir;
    const small_chunks chunks(200);
    auto ck = checkpoint(io::dtype::f32, 5);
    // b.weight [50, 96]: element (41, 7), in the 14th chunk of 3 rows
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
    CHECK(dir.list() == std::vector<std::string>{"in.safetensors"});
}
