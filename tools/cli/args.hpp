#pragma once
// Command-line parsing of the `compress` tool: a pure function from the argument list to an
// `options` value (no I/O, no globals), so tests and fuzz targets call it directly.

#include <charconv>
#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <system_error>
#include <vector>

#include <compress/core/error.hpp>

#include "schemes.hpp"

namespace compress::cli {

/// A command line that does not make sense: unknown command or option, missing or extra
/// argument, a value out of range. Exit code 2.
class usage_error : public compress::error {
public:
    explicit usage_error(const std::string& what) : compress::error("usage: " + what) {}
};

enum class progress_mode { automatic, always, never };

struct options {
    std::string command;                 ///< inspect, prune, quantize, report, help, version
    std::vector<std::string> positional;  ///< files
    bool json = false;
    progress_mode progress = progress_mode::automatic;
    // prune
    std::string criterion = "magnitude";
    std::string grouping = "unstructured";
    std::optional<double> amount;
    bool global = false;
    std::uint64_t seed = 0;
    std::string store = "auto";  ///< how pruned matrices are written (schemes.hpp stores())
    // report
    std::size_t batch = 1;  ///< activation rows the cost model assumes
    // prune, quantize
    std::optional<std::string> only;  ///< ECMAScript regex searched in tensor names
    // quantize
    std::string scheme;
    // help
    std::string topic;
};

namespace detail {

struct option_spec {
    const char* name;
    bool takes_value;
    const char* commands;  ///< space-separated commands accepting it; "*" for all
};

inline const std::vector<option_spec>& option_specs() {
    static const std::vector<option_spec> specs = {
        {"--json", false, "*"},
        {"--progress", false, "*"},
        {"--no-progress", false, "*"},
        {"--help", false, "*"},
        {"--criterion", true, "prune"},
        {"--grouping", true, "prune"},
        {"--amount", true, "prune"},
        {"--global", false, "prune"},
        {"--seed", true, "prune"},
        {"--store", true, "prune"},
        {"--batch", true, "report"},
        {"--only", true, "prune quantize"},
        {"--scheme", true, "quantize"},
    };
    return specs;
}

inline bool accepts(const option_spec& s, const std::string& command) {
    const std::string list = std::string(" ") + s.commands + " ";
    return list == " * " || list.find(" " + command + " ") != std::string::npos;
}

inline double parse_amount(const std::string& v) {
    double d = 0.0;
    const char* b = v.data();
    const char* e = v.data() + v.size();
    auto [p, ec] = std::from_chars(b, e, d);
    if (v.empty() || ec != std::errc() || p != e) throw usage_error("--amount needs a number, got '" + v + "'");
    if (!(d >= 0.0 && d <= 1.0)) throw usage_error("--amount must be a fraction in [0, 1], got " + v);
    return d;
}

inline std::uint64_t parse_seed(const std::string& v) {
    std::uint64_t s = 0;
    const char* b = v.data();
    const char* e = v.data() + v.size();
    auto [p, ec] = std::from_chars(b, e, s);
    if (v.empty() || ec != std::errc() || p != e) throw usage_error("--seed needs a non-negative integer, got '" + v + "'");
    return s;
}

inline std::size_t parse_batch(const std::string& v) {
    std::uint64_t b = 0;
    const char* s = v.data();
    const char* e = v.data() + v.size();
    auto [p, ec] = std::from_chars(s, e, b);
    if (v.empty() || ec != std::errc() || p != e || b == 0 || b > (1u << 20)) {
        throw usage_error("--batch needs an integer in [1, 1048576], got '" + v + "'");
    }
    return static_cast<std::size_t>(b);
}

inline std::string join_names(const std::vector<std::string>& names) {
    std::string s;
    for (std::size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
    return s;
}

}  // namespace detail

/// True when a back-reference (`\` digits) or a repeat count (`{` digits) of regex `re` has
/// more than 9 digits. libstdc++ 12's regex compiler accumulates such numbers in a `long`
/// without an overflow check (undefined behaviour for 19+ digits; fuzz finding
/// fuzz/regressions/cli_args/regex-backref-overflow), and no pattern needs a number that large:
/// counts above the compiler's state limit are rejected by it anyway.
inline bool has_long_regex_number(const std::string& re) {
    auto digits_at = [&](std::size_t i) {
        std::size_t n = 0;
        while (i + n < re.size() && re[i + n] >= '0' && re[i + n] <= '9') ++n;
        return n;
    };
    for (std::size_t i = 0; i < re.size(); ++i) {
        if (re[i] == '\\') {
            if (digits_at(i + 1) > 9) return true;
            ++i;  // the escaped character
        } else if (re[i] == '{') {
            const std::size_t lo = digits_at(i + 1);
            if (lo > 9) return true;
            if (i + 1 + lo < re.size() && re[i + 1 + lo] == ',' && digits_at(i + 2 + lo) > 9) return true;
        }
    }
    return false;
}

/// Commands and the number of files each takes.
inline const std::vector<std::pair<std::string, std::size_t>>& commands() {
    static const std::vector<std::pair<std::string, std::size_t>> c = {
        {"inspect", 1}, {"prune", 2}, {"quantize", 2}, {"report", 2}, {"help", 0}, {"version", 0}};
    return c;
}

/// Parses `args` (without the program name). Throws usage_error with a message naming the
/// offending argument. `compress --help`, `compress help [COMMAND]` and `compress COMMAND --help`
/// give command "help"; `compress --version` gives "version".
inline options parse_args(const std::vector<std::string>& args) {
    options o;
    std::size_t i = 0;
    // global options before the command
    while (i < args.size() && args[i].size() > 1 && args[i][0] == '-') {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") { o.command = "help"; return o; }
        if (a == "--version") { o.command = "version"; return o; }
        if (a == "--json") o.json = true;
        else if (a == "--progress") o.progress = progress_mode::always;
        else if (a == "--no-progress") o.progress = progress_mode::never;
        else throw usage_error("unknown option '" + a + "' before the command");
        ++i;
    }
    if (i >= args.size()) throw usage_error("missing command (inspect, prune, quantize, report, help)");
    o.command = args[i++];
    std::size_t want = 0;
    bool known = false;
    for (const auto& [name, n] : commands()) {
        if (name == o.command) { known = true; want = n; }
    }
    if (!known) throw usage_error("unknown command '" + o.command + "' (inspect, prune, quantize, report, help, version)");
    if (o.command == "help") {
        if (i < args.size()) o.topic = args[i++];
        if (i < args.size()) throw usage_error("help takes at most one command name");
        if (!o.topic.empty() && o.topic != "inspect" && o.topic != "prune" && o.topic != "quantize" && o.topic != "report") {
            throw usage_error("no help for '" + o.topic + "' (inspect, prune, quantize, report)");
        }
        return o;
    }
    bool seen_amount = false, seen_scheme = false, seen_only = false, seen_criterion = false, seen_grouping = false,
         seen_seed = false, seen_store = false, seen_batch = false, options_done = false;
    for (; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (options_done || a.size() < 2 || a[0] != '-') {
            o.positional.push_back(a);
            continue;
        }
        if (a == "--") { options_done = true; continue; }
        if (a == "-h") { o.topic = o.command; o.command = "help"; return o; }
        std::string name = a, value;
        bool has_value = false;
        const auto eq = a.find('=');
        if (eq != std::string::npos) {
            name = a.substr(0, eq);
            value = a.substr(eq + 1);
            has_value = true;
        }
        const detail::option_spec* spec = nullptr;
        for (const auto& s : detail::option_specs()) {
            if (name == s.name) spec = &s;
        }
        if (!spec) throw usage_error("unknown option '" + name + "' for '" + o.command + "'");
        if (!detail::accepts(*spec, o.command)) throw usage_error("'" + name + "' is not an option of '" + o.command + "'");
        if (spec->takes_value && !has_value) {
            if (i + 1 >= args.size()) throw usage_error("'" + name + "' needs a value");
            value = args[++i];
        } else if (!spec->takes_value && has_value) {
            throw usage_error("'" + name + "' takes no value");
        }
        auto once = [&](bool& seen) {
            if (seen) throw usage_error("'" + name + "' given twice");
            seen = true;
        };
        if (name == "--help") { o.topic = o.command; o.command = "help"; return o; }
        if (name == "--json") o.json = true;
        else if (name == "--progress") o.progress = progress_mode::always;
        else if (name == "--no-progress") o.progress = progress_mode::never;
        else if (name == "--global") o.global = true;
        else if (name == "--amount") { once(seen_amount); o.amount = detail::parse_amount(value); }
        else if (name == "--seed") { once(seen_seed); o.seed = detail::parse_seed(value); }
        else if (name == "--batch") { once(seen_batch); o.batch = detail::parse_batch(value); }
        else if (name == "--store") {
            once(seen_store);
            if (!find_store(value)) throw usage_error("unknown store '" + value + "' (" + detail::join_names(store_names()) + ")");
            o.store = value;
        }
        else if (name == "--criterion") {
            once(seen_criterion);
            if (!find_criterion(value)) throw usage_error("unknown criterion '" + value + "' (" + detail::join_names(criterion_names()) + ")");
            o.criterion = value;
        } else if (name == "--grouping") {
            once(seen_grouping);
            if (!find_grouping(value)) throw usage_error("unknown grouping '" + value + "' (" + detail::join_names(grouping_names()) + ")");
            o.grouping = value;
        } else if (name == "--scheme") {
            once(seen_scheme);
            if (!find_quant_scheme(value)) throw usage_error("unknown scheme '" + value + "' (" + detail::join_names(quant_scheme_names()) + ")");
            o.scheme = value;
        } else if (name == "--only") {
            once(seen_only);
            if (has_long_regex_number(value)) {
                throw usage_error("--only: invalid regular expression '" + value +
                                  "': a repeat count or back-reference has more than 9 digits");
            }
            try {
                std::regex re(value, std::regex::ECMAScript);
                (void)re;
            } catch (const std::regex_error& e) {
                throw usage_error("--only: invalid regular expression '" + value + "': " + e.what());
            }
            o.only = value;
        }
    }
    if (o.positional.size() != want) {
        static const char* what[] = {"", "FILE", "IN OUT"};
        throw usage_error("'" + o.command + "' takes " + std::to_string(want) + " file" + (want == 1 ? "" : "s") + " (" +
                          what[want] + "), got " + std::to_string(o.positional.size()));
    }
    if (o.command == "quantize" && o.scheme.empty()) throw usage_error("'quantize' needs --scheme (" + detail::join_names(quant_scheme_names()) + ")");
    if (o.command == "prune") {
        const auto* g = find_grouping(o.grouping);
        const auto* c = find_criterion(o.criterion);
        if (g->fixed_amount >= 0.0) {
            if (o.amount && *o.amount != g->fixed_amount) {
                throw usage_error("grouping " + o.grouping + " prunes exactly " + std::to_string(g->fixed_amount) +
                                  " of the weights; --amount " + std::to_string(*o.amount) + " contradicts it");
            }
            o.amount = g->fixed_amount;
        }
        if (!o.amount) throw usage_error("'prune' needs --amount (a fraction in [0, 1])");
        if (o.global && !g->global_ok) throw usage_error("--global works with unstructured grouping only, not " + o.grouping);
        if (seen_seed && !c->seeded) throw usage_error("--seed is for the random criterion only");
        const auto* st = find_store(o.store);
        const std::string grouping = o.global ? "unstructured" : o.grouping;
        if (*st->grouping && grouping != st->grouping) {
            throw usage_error("--store " + o.store + " stores " + st->grouping + " masks; it needs --grouping " +
                              st->grouping + ", not " + grouping + (o.global ? " (--global)" : ""));
        }
    }
    return o;
}

}  // namespace compress::cli
