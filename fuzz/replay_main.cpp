// Regression driver: feeds files (or every regular file of a directory, in name order) to a
// fuzz target's LLVMFuzzerTestOneInput, so the corpora and every crash ever found run in the
// ordinary g++ builds (release and ASan/UBSan) of `make test` without clang or libFuzzer.
// Exit status 0 when every input returned; a finding aborts (the test fails).

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace fs = std::filesystem;

static void run_file(const fs::path& p, std::size_t& count) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "replay: cannot open %s\n", p.c_str());
        std::exit(2);
    }
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Copy into an exactly sized heap buffer, as libFuzzer does, so ASan sees reads past the end.
    std::vector<std::uint8_t> exact(bytes.begin(), bytes.end());
    std::uint8_t* buf = exact.empty() ? nullptr : new std::uint8_t[exact.size()];
    std::copy(exact.begin(), exact.end(), buf);
    LLVMFuzzerTestOneInput(buf, exact.size());
    delete[] buf;
    ++count;
}

int main(int argc, char** argv) {
    std::size_t count = 0;
    for (int i = 1; i < argc; ++i) {
        const fs::path arg(argv[i]);
        if (fs::is_directory(arg)) {
            std::vector<fs::path> files;
            for (const auto& e : fs::directory_iterator(arg)) {
                if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
            }
            std::sort(files.begin(), files.end());
            for (const auto& f : files) run_file(f, count);
        } else if (fs::exists(arg)) {
            run_file(arg, count);
        } else {
            std::fprintf(stderr, "replay: %s does not exist\n", argv[i]);
            return 2;
        }
    }
    std::printf("replay: %zu inputs, no finding\n", count);
    return 0;
}
