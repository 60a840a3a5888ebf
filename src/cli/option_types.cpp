// Validators of option_types.h.
#include "cli/option_types.h"

#include <cmath>
#include <cstdlib>

#include "eplb/error.h"
#include "eplb/trace.h"

namespace eplb::cli {

namespace {

// 16777216, 0.5, 1e+300: integers in full while they are exact in a double, else %g.
std::string number_text(double v) {
    if (std::abs(v) < 1e15 && v == std::floor(v)) return std::to_string(static_cast<long long>(v));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

// The value of `text` if all of it is a number.
bool parse_number(const std::string& text, double* v) {
    char* end = nullptr;
    *v = std::strtod(text.c_str(), &end);
    return !text.empty() && end && *end == '\0';
}

CLI::Validator bounds(double min, double max) {
    return CLI::Validator(
        [min, max](std::string& text) {
            double v = 0;
            if (!parse_number(text, &v) || (v >= min && v <= max)) return std::string();
            const std::string shown = "'" + printable(text) + "'";
            if (max == HUGE_VAL) return shown + " must be at least " + number_text(min);
            return shown + " must be in [" + number_text(min) + ", " + number_text(max) + "]";
        },
        "");
}

}  // namespace

std::string name_list(const std::vector<std::string>& names, const char* separator) {
    std::string list;
    for (const std::string& n : names) list += (list.empty() ? "" : separator) + n;
    return list;
}

CLI::Validator one_of(std::vector<std::string> names) {
    return CLI::Validator(
        [names](std::string& text) {
            for (const std::string& n : names) {
                if (equal_ignore_case(n, text)) {
                    text = n;
                    return std::string();
                }
            }
            return unknown_name_message(text, names);
        },
        "");
}

CLI::Validator at_least(double min) { return bounds(min, HUGE_VAL); }

CLI::Validator in_range(double min, double max) { return bounds(min, max); }

CLI::Validator range_syntax() {
    return CLI::Validator(
        [](std::string& text) {
            try {
                parse_range(text, "value");
            } catch (const Error& e) {
                return std::string(e.what());
            }
            return std::string();
        },
        "");
}

}  // namespace eplb::cli
