// The `compress` command-line tool: inspect, prune, quantize and report on safetensors files
// and compressed models. See docs/cli.md. The commands are compress_cli_lib (cli/cli.cpp).
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "cli/api.hpp"

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    compress::cli::console c{std::cout, std::cerr, ::isatty(STDERR_FILENO) == 1};
    const int code = compress::cli::run(args, c);
    std::cout.flush();
    return code;
}
