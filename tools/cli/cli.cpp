// The `compress` tool's library (compress_cli_lib): the one TU that compiles the commands and
// every scheme of the registry. tools/compress.cpp and tests/test_cli*.cpp use it through api.hpp.
#define COMPRESS_CLI_IMPLEMENTATION 1
#include "commands.hpp"
