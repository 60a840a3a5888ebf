// Name tables of the enums users type (policies, backends, transports, formats): one array of
// {name, value} per enum, printed and parsed through the same functions, with "did you mean" for
// typos. Plain C++: the CLI's option glue (src/cli/option_types.h) and the file readers share them.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "eplb/error.h"

namespace eplb {

template <class T>
struct NamedValue {
    const char* name;
    T value;
};

// Edit distance (insertions, deletions, substitutions, swaps of neighbours), case-insensitive.
int edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `text` by edit_distance when it is close enough to be a typo (at most
// a third of the longer word, at least 1; ties: the first); empty when none is.
std::string closest_name(std::string_view text, const std::vector<std::string>& candidates);

// "'balance' is not one of deepseek, balanced; did you mean 'balanced'?" (the suggestion only when
// closest_name finds one).
std::string unknown_name_message(std::string_view text, const std::vector<std::string>& names);

// Whether a and b are equal ignoring ASCII case.
bool equal_ignore_case(std::string_view a, std::string_view b);

template <class T>
std::vector<std::string> names_of(std::span<const NamedValue<T>> table) {
    std::vector<std::string> names;
    for (const NamedValue<T>& e : table) names.emplace_back(e.name);
    return names;
}

// The name of `value` in `table` ("?" for a value the table lacks, which cannot happen for a
// complete table).
template <class T>
const char* name_in(std::span<const NamedValue<T>> table, T value) {
    for (const NamedValue<T>& e : table) {
        if (e.value == value) return e.name;
    }
    return "?";
}

// The entry named `text` (any case), or nullptr.
template <class T>
const NamedValue<T>* find_name(std::span<const NamedValue<T>> table, std::string_view text) {
    for (const NamedValue<T>& e : table) {
        if (equal_ignore_case(e.name, text)) return &e;
    }
    return nullptr;
}

// The value named `text` (any case); else invalid input "<what> 'x' is not one of a, b; did you
// mean 'y'?" (`what` names the flag or the file and key).
template <class T>
T parse_name(std::span<const NamedValue<T>> table, std::string_view text, std::string_view what) {
    if (const NamedValue<T>* e = find_name(table, text)) return e->value;
    EPLB_FAIL(what << ": " << unknown_name_message(text, names_of(table)));
}

}  // namespace eplb
