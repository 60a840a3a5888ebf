// CLI11 glue for eplb's option types: enum options from the name tables of eplb/names.h (names
// only, listed in --help and in the error), numeric bounds with readable numbers, A:B ranges.
// Everything here fails at parse time, so its errors are usage errors (exit 2).
#pragma once

#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "eplb/names.h"

namespace eplb::cli {

// Accepts one of `names` (any case) and rewrites it to the name as listed; the error lists them and
// suggests the closest.
CLI::Validator one_of(std::vector<std::string> names);

// Accepts the names of `table` (any case) and rewrites them to the number CLI11 reads an enum from
// ("--policy 1" is refused: the number is not a name).
template <class T>
CLI::Validator enum_names(std::span<const NamedValue<T>> table) {
    return CLI::Validator(
        [table](std::string& text) {
            const NamedValue<T>* e = find_name(table, text);
            if (!e) return unknown_name_message(text, names_of(table));
            text = std::to_string(static_cast<long long>(e->value));
            return std::string();
        },
        "");
}

// "a|b|c" for --help.
std::string name_list(const std::vector<std::string>& names, const char* separator = "|");

// An option holding one enum value (or a vector of them) named through `table`.
template <class T, class Value>
CLI::Option* add_enum_option(CLI::App& app, const std::string& flags, Value& value,
                             std::span<const NamedValue<T>> table, const std::string& help) {
    return app.add_option(flags, value, help)
        ->transform(enum_names(table))
        ->type_name(name_list(names_of(table)));
}

// Numbers at least `min` / in [min, max]; the error prints the bounds as written ("must be at least
// 0", not CLI11's 300-digit double). A text that is not a number passes to CLI11's conversion.
CLI::Validator at_least(double min);
CLI::Validator in_range(double min, double max);

// A range A:B, A: or :B of non-negative integers (--layers, --steps).
CLI::Validator range_syntax();

}  // namespace eplb::cli
