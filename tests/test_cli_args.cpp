// Argument parsing of the `compress` tool: a pure function, every misuse a usage_error
// naming the offending argument.
#include <catch2/catch.hpp>

#include "cli/args.hpp"

// The whole file in its own namespace: it is compiled in one unity TU with the other files of its
// test program (tests/CMakeLists.txt), and its helpers have the same names as theirs.
namespace test_cli_args {

using namespace compress::cli;
using Catch::Matchers::Contains;

namespace {
options parse(std::initializer_list<const char*> a) { return parse_args(std::vector<std::string>(a.begin(), a.end())); }

void rejects(std::initializer_list<const char*> a, const std::string& message) {
    INFO(message);
    const std::vector<std::string> args(a.begin(), a.end());
    CHECK_THROWS_AS(parse_args(args), usage_error);
    CHECK_THROWS_WITH(parse_args(args), Contains(message));
}
}  // namespace

TEST_CASE("cli args: the commands of the issue parse", "[cli][args]") {
    auto i = parse({"inspect", "m.safetensors"});
    CHECK(i.command == "inspect");
    CHECK(i.positional == std::vector<std::string>{"m.safetensors"});
    CHECK_FALSE(i.json);

    auto p = parse({"prune", "in.st", "out.st", "--criterion", "magnitude", "--grouping", "unstructured", "--amount", "0.9",
                    "--global", "--only", "weight$"});
    CHECK(p.command == "prune");
    CHECK(p.positional == std::vector<std::string>{"in.st", "out.st"});
    CHECK(p.amount == 0.9);
    CHECK(p.global);
    CHECK(p.only == std::string("weight$"));

    auto q = parse({"--json", "quantize", "--scheme=int4-sym-g32", "in.st", "out.st", "--no-progress"});
    CHECK(q.json);
    CHECK(q.scheme == "int4-sym-g32");
    CHECK(q.progress == progress_mode::never);
    CHECK(q.positional.size() == 2);

    auto r = parse({"report", "a.st", "b.st", "--json", "--progress"});
    CHECK(r.json);
    CHECK(r.progress == progress_mode::always);

    // N:M groupings imply the amount; block and structured groupings take one
    auto nm = parse({"prune", "a", "b", "--grouping", "2:4"});
    CHECK(nm.amount == 0.5);
    CHECK(parse({"prune", "a", "b", "--grouping", "2:4", "--amount", "0.5"}).amount == 0.5);
    CHECK(parse({"prune", "a", "b", "--grouping", "block4x4", "--amount=0.75"}).amount == 0.75);
    auto rnd = parse({"prune", "a", "b", "--criterion", "random", "--seed", "42", "--amount", "0"});
    CHECK(rnd.seed == 42);
    CHECK(rnd.amount == 0.0);
    // a file name starting with '-' after "--"
    CHECK(parse({"inspect", "--", "-weird.st"}).positional == std::vector<std::string>{"-weird.st"});
    // every scheme of the issue is known
    for (const char* s : {"int8-sym-channel", "int8-affine-tensor", "int4-sym-g32", "int2", "ternary", "binary", "fp16", "bf16", "fp8"}) {
        CHECK(parse({"quantize", "a", "b", "--scheme", s}).scheme == s);
    }
}

TEST_CASE("cli args: help and version", "[cli][args]") {
    CHECK(parse({"--help"}).command == "help");
    CHECK(parse({"-h"}).command == "help");
    CHECK(parse({"help"}).topic.empty());
    CHECK(parse({"help", "prune"}).topic == "prune");
    auto h = parse({"quantize", "--help"});
    CHECK(h.command == "help");
    CHECK(h.topic == "quantize");
    CHECK(parse({"--version"}).command == "version");
    CHECK(parse({"version"}).command == "version");
}

TEST_CASE("cli args: every misuse is a usage_error naming the argument", "[cli][args][reject]") {
    rejects({}, "missing command");
    rejects({"--json"}, "missing command");
    rejects({"compres", "a"}, "unknown command 'compres'");
    rejects({"--verbose", "inspect", "a"}, "unknown option '--verbose' before the command");
    rejects({"inspect"}, "'inspect' takes 1 file (FILE), got 0");
    rejects({"inspect", "a", "b"}, "'inspect' takes 1 file (FILE), got 2");
    rejects({"quantize", "a", "--scheme", "int8-sym-channel"}, "'quantize' takes 2 files (IN OUT), got 1");
    rejects({"report", "a"}, "'report' takes 2 files");
    rejects({"inspect", "a", "--scheme", "fp16"}, "'--scheme' is not an option of 'inspect'");
    rejects({"quantize", "a", "b", "--amount", "0.5", "--scheme", "fp16"}, "'--amount' is not an option of 'quantize'");
    rejects({"inspect", "a", "--colour"}, "unknown option '--colour' for 'inspect'");
    rejects({"quantize", "a", "b"}, "'quantize' needs --scheme");
    rejects({"quantize", "a", "b", "--scheme"}, "'--scheme' needs a value");
    rejects({"quantize", "a", "b", "--scheme", "int3"}, "unknown scheme 'int3' (int8-sym-channel, int8-affine-tensor");
    rejects({"quantize", "a", "b", "--scheme", "fp16", "--scheme", "bf16"}, "'--scheme' given twice");
    rejects({"quantize", "a", "b", "--scheme", "fp16", "--only", "("}, "--only: invalid regular expression '('");
    // numbers libstdc++ 12's regex compiler would overflow (undefined behaviour; fuzz finding)
    rejects({"quantize", "a", "b", "--scheme", "fp16", "--only", "(a)\\3333333333333333333333"},
            "--only: invalid regular expression '(a)\\3333333333333333333333': a repeat count or back-reference has more than 9 digits");
    rejects({"prune", "a", "b", "--amount", "0.5", "--only", "a{1,99999999999999999999}"},
            "a repeat count or back-reference has more than 9 digits");
    rejects({"prune", "a", "b", "--amount", "0.5", "--only", "a{12345678901}"}, "has more than 9 digits");
    CHECK(parse_args({"prune", "a", "b", "--amount", "0.5", "--only", "layer1234567890\\.w{1,3}"}).only ==
          std::string("layer1234567890\\.w{1,3}"));  // long literal digits are fine
    rejects({"inspect", "a", "--json=yes"}, "'--json' takes no value");
    rejects({"prune", "a", "b"}, "'prune' needs --amount");
    rejects({"prune", "a", "b", "--amount", "1.5"}, "--amount must be a fraction in [0, 1], got 1.5");
    rejects({"prune", "a", "b", "--amount", "-0.1"}, "--amount must be a fraction in [0, 1]");
    rejects({"prune", "a", "b", "--amount", "nan"}, "--amount must be a fraction in [0, 1]");
    rejects({"prune", "a", "b", "--amount", "0.5x"}, "--amount needs a number, got '0.5x'");
    rejects({"prune", "a", "b", "--amount", ""}, "--amount needs a number");
    rejects({"prune", "a", "b", "--amount", "0.5", "--amount", "0.6"}, "'--amount' given twice");
    rejects({"prune", "a", "b", "--amount", "0.5", "--criterion", "taylor"}, "unknown criterion 'taylor' (magnitude, random)");
    rejects({"prune", "a", "b", "--amount", "0.5", "--grouping", "3:4"}, "unknown grouping '3:4' (unstructured, rows, columns, 2:4, block4x4)");
    rejects({"prune", "a", "b", "--grouping", "2:4", "--amount", "0.9"}, "grouping 2:4 prunes exactly 0.500000");
    rejects({"prune", "a", "b", "--grouping", "rows", "--amount", "0.5", "--global"}, "--global works with unstructured grouping only, not rows");
    rejects({"prune", "a", "b", "--amount", "0.5", "--seed", "3"}, "--seed is for the random criterion only");
    rejects({"prune", "a", "b", "--criterion", "random", "--amount", "0.5", "--seed", "-3"}, "--seed needs a non-negative integer");
    rejects({"prune", "a", "b", "--criterion", "random", "--amount", "0.5", "--seed", "99999999999999999999999"}, "--seed needs a non-negative integer");
    rejects({"help", "frobnicate"}, "no help for 'frobnicate'");
    rejects({"help", "prune", "quantize"}, "help takes at most one command name");
}

}  // namespace test_cli_args
