// Fuzz target: the `compress` tool's command-line parsing (tools/cli/args.hpp, parse_args),
// its scheme / criterion / grouping / --store names, --batch and the --only regular expression. The input is the
// argument list, NUL-separated (at most 64 arguments). parse_args must either return options
// that satisfy every rule it promises, or throw usage_error; anything else escaping
// (std::regex_error, std::out_of_range, a crash) is a finding. Accepted options, written back
// as a canonical command line, must parse to the same options.

#include <cstdint>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "fuzz_common.hpp"

namespace cli = compress::cli;

namespace {

std::vector<std::string> canonical(const cli::options& o) {
    std::vector<std::string> a;
    if (o.json) a.push_back("--json");
    if (o.progress == cli::progress_mode::always) a.push_back("--progress");
    if (o.progress == cli::progress_mode::never) a.push_back("--no-progress");
    a.push_back(o.command);
    if (o.command == "prune") {
        a.push_back("--criterion=" + o.criterion);
        a.push_back("--grouping=" + o.grouping);
        // the shortest text that parses back to the same double
        char buf[64];
        for (int digits = 1; digits <= 17; ++digits) {
            std::snprintf(buf, sizeof buf, "%.*g", digits, *o.amount);
            if (std::stod(buf) == *o.amount) break;
        }
        a.push_back(std::string("--amount=") + buf);
        if (o.global) a.push_back("--global");
        if (o.criterion == "random") a.push_back("--seed=" + std::to_string(o.seed));
        a.push_back("--store=" + o.store);
    }
    if (o.command == "report") a.push_back("--batch=" + std::to_string(o.batch));
    if (o.command == "quantize") a.push_back("--scheme=" + o.scheme);
    if (o.only) a.push_back("--only=" + *o.only);
    a.push_back("--");
    for (const auto& p : o.positional) a.push_back(p);
    return a;
}

bool same(const cli::options& x, const cli::options& y) {
    return x.command == y.command && x.positional == y.positional && x.json == y.json && x.progress == y.progress &&
           x.criterion == y.criterion && x.grouping == y.grouping && x.amount == y.amount && x.global == y.global &&
           x.seed == y.seed && x.store == y.store && x.batch == y.batch && x.only == y.only && x.scheme == y.scheme &&
           x.topic == y.topic;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<std::string> args(1);
    for (std::size_t i = 0; i < size; ++i) {
        if (data[i] == 0) {
            if (args.size() == 64) break;
            args.emplace_back();
        } else {
            args.back().push_back(static_cast<char>(data[i]));
        }
    }
    if (size == 0) args.clear();
    cli::options o;
    try {
        o = cli::parse_args(args);
    } catch (const cli::usage_error& e) {
        FUZZ_CHECK(std::string(e.what()).rfind("usage: ", 0) == 0);
        return 0;
    }
    bool known = false;
    std::size_t want = 0;
    for (const auto& [name, n] : cli::commands()) {
        if (name == o.command) {
            known = true;
            want = n;
        }
    }
    FUZZ_CHECK(known);
    if (o.command == "help" || o.command == "version") return 0;
    FUZZ_CHECK(o.positional.size() == want);
    // --batch belongs to report (an integer in [1, 2^20]), --store to prune: elsewhere the defaults
    FUZZ_CHECK(o.batch >= 1 && o.batch <= (std::size_t(1) << 20));
    if (o.command != "report") FUZZ_CHECK(o.batch == 1);
    if (o.command != "prune") FUZZ_CHECK(o.store == "auto" && o.seed == 0 && !o.global);
    if (o.command == "quantize") FUZZ_CHECK(cli::find_quant_scheme(o.scheme) != nullptr);
    if (o.command == "prune") {
        const auto* g = cli::find_grouping(o.grouping);
        const auto* c = cli::find_criterion(o.criterion);
        FUZZ_CHECK(g != nullptr && c != nullptr);
        FUZZ_CHECK(o.amount.has_value() && *o.amount >= 0.0 && *o.amount <= 1.0);
        if (g->fixed_amount >= 0.0) FUZZ_CHECK(*o.amount == g->fixed_amount);
        if (o.global) FUZZ_CHECK(g->global_ok);
        if (!c->seeded) FUZZ_CHECK(o.seed == 0);
        // a store made for one grouping's masks only with that grouping (--global: unstructured)
        const auto* st = cli::find_store(o.store);
        FUZZ_CHECK(st != nullptr);
        if (*st->grouping) FUZZ_CHECK(std::string(o.global ? "unstructured" : o.grouping) == st->grouping);
    }
    if (o.only) {
        // accepted, so it must compile. (Not matched here: std::regex backtracks, and a pattern
        // with nested quantifiers such as "[a-z]**\\d+[a-z]+\\.m" takes exponential time on a
        // plain tensor name; that is the user's own pattern, a documented limit, not a parser bug.)
        std::regex re(*o.only, std::regex::ECMAScript);
        (void)re;
    }
    const cli::options again = cli::parse_args(canonical(o));
    FUZZ_CHECK(same(o, again));
    return 0;
}
