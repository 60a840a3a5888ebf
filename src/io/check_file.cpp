// Check files and baselines (see check_file.h).
#include "io/check_file.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "eplb/error.h"
#include "eplb/trace.h"
#include "io/file_util.h"
#include "io/json_util.h"
#include "io/report.h"

namespace eplb::io {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::vector<std::string>& case_keys() {
    static const std::vector<std::string> keys = {"name",
                                                  "trace",
                                                  "config",
                                                  "layers",
                                                  "first_layer",
                                                  "steps",
                                                  "baseline",
                                                  "min_balancedness",
                                                  "max_gap",
                                                  "max_layer_gap",
                                                  "max_moved_experts",
                                                  "max_regression",
                                                  "allow_other_trace"};
    return keys;
}

bool is_case_key(const std::string& key) {
    const auto& k = case_keys();
    return std::find(k.begin(), k.end(), key) != k.end();
}

bool is_config_key(const std::string& key) {
    const auto& k = config_keys();
    return std::find(k.begin(), k.end(), key) != k.end();
}

// A relative path in the check file is relative to the check file's directory.
std::string resolve_path(const std::string& path, const std::string& source) {
    const fs::path p(path);
    if (p.is_absolute() || source.empty()) return path;
    const fs::path dir = fs::path(source).parent_path();
    return dir.empty() ? path : (dir / p).lexically_normal().string();
}

std::string string_key(const json& c, const char* key, const std::string& where) {
    const json& v = c[key];
    EPLB_CHECK(v.is_string() && !v.get<std::string>().empty(),
               where << ": " << key << " is " << describe_value(v) << ", expected a non-empty string");
    return v.get<std::string>();
}

double number_key(const json& c, const char* key, const std::string& where) {
    const json& v = c[key];
    EPLB_CHECK(v.is_number() && std::isfinite(v.get<double>()),
               where << ": " << key << " is " << describe_value(v) << ", expected a number");
    return v.get<double>();
}

CheckCase parse_case(const json& c, const std::string& source, const std::string& where) {
    CheckCase k;
    json config_keys_given = json::object();
    for (auto it = c.begin(); it != c.end(); ++it) {
        const std::string& key = it.key();
        if (is_config_key(key)) {
            config_keys_given[key] = it.value();
        } else if (!is_case_key(key)) {
            EPLB_FAIL(where << ": unknown key \"" << printable(key) << "\" (case keys: " << join(case_keys())
                            << "; config keys: " << join(config_keys()) << ")");
        }
    }
    EPLB_CHECK(c.contains("name"), where << ": missing \"name\"");
    k.name = string_key(c, "name", where);
    EPLB_CHECK(c.contains("trace"),
               where << ": missing \"trace\" (a trace file or TensorRT-LLM statistics directory)");
    k.trace = resolve_path(string_key(c, "trace", where), source);
    if (c.contains("config")) {
        const json& cfg = c["config"];
        if (cfg.is_object()) {
            k.overrides = parse_config_json(cfg.dump(), where + ": config");
        } else {
            k.config = resolve_path(string_key(c, "config", where), source);
        }
    }
    if (!config_keys_given.empty()) {
        apply_config_overrides(k.overrides, parse_config_json(config_keys_given.dump(), where));
    }
    if (c.contains("layers")) {
        k.layers = string_key(c, "layers", where);
        parse_range(k.layers, (where + ": layers").c_str());
    }
    if (c.contains("first_layer")) {
        const json& v = c["first_layer"];
        EPLB_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < (1 << 30),
                   where << ": first_layer is " << describe_value(v) << ", expected a model layer id >= 0");
        k.first_layer = v.get<int>();
    }
    if (c.contains("steps")) {
        k.steps = string_key(c, "steps", where);
        parse_range(k.steps, (where + ": steps").c_str());
    }
    if (c.contains("baseline")) k.baseline = resolve_path(string_key(c, "baseline", where), source);
    if (c.contains("allow_other_trace")) {
        const json& v = c["allow_other_trace"];
        EPLB_CHECK(v.is_boolean(),
                   where << ": allow_other_trace is " << describe_value(v) << ", expected true or false");
        k.allow_other_trace = v.get<bool>();
    }
    CheckThresholds& t = k.thresholds;
    if (c.contains("min_balancedness")) t.min_balancedness = number_key(c, "min_balancedness", where);
    if (c.contains("max_gap")) t.max_gap = number_key(c, "max_gap", where);
    if (c.contains("max_layer_gap")) t.max_layer_gap = number_key(c, "max_layer_gap", where);
    if (c.contains("max_regression")) t.max_regression = number_key(c, "max_regression", where);
    if (c.contains("max_moved_experts")) {
        const json& v = c["max_moved_experts"];
        EPLB_CHECK(v.is_number_integer(),
                   where << ": max_moved_experts is " << describe_value(v) << ", expected an integer");
        t.max_moved_experts = v.get<int64_t>();
    }
    validate_thresholds(t, !k.baseline.empty(), where);
    return k;
}

}  // namespace

void validate_thresholds(const CheckThresholds& t, bool has_baseline, const std::string& where) {
    EPLB_CHECK(!t.empty(), where << ": no threshold: give min_balancedness, max_gap, max_layer_gap, "
                                    "max_moved_experts or max_regression");
    if (t.min_balancedness) {
        EPLB_CHECK(*t.min_balancedness >= 0 && *t.min_balancedness <= 1,
                   where << ": min_balancedness (" << *t.min_balancedness << ") must be in [0, 1]");
    }
    if (t.max_gap) EPLB_CHECK(*t.max_gap >= 0, where << ": max_gap (" << *t.max_gap << ") must be >= 0");
    if (t.max_layer_gap) {
        EPLB_CHECK(*t.max_layer_gap >= 0,
                   where << ": max_layer_gap (" << *t.max_layer_gap << ") must be >= 0");
    }
    if (t.max_regression) {
        EPLB_CHECK(*t.max_regression >= 0 && *t.max_regression <= 1,
                   where << ": max_regression (" << *t.max_regression << ") must be in [0, 1]");
        EPLB_CHECK(has_baseline, where << ": max_regression needs a baseline (a placement or an evaluation)");
    }
    if (t.max_moved_experts) {
        EPLB_CHECK(*t.max_moved_experts >= 0,
                   where << ": max_moved_experts (" << *t.max_moved_experts << ") must be >= 0");
        EPLB_CHECK(has_baseline, where << ": max_moved_experts needs a baseline placement to move from");
    }
    EPLB_CHECK(!has_baseline || t.max_regression || t.max_moved_experts,
               where << ": a baseline is given but neither max_regression nor max_moved_experts uses it");
}

CheckFile parse_check_file(const std::string& text, const std::string& source) {
    const json j = parse_json(text, source);
    EPLB_CHECK(j.is_object(), source << ": expected a JSON object with \"cases\"");
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& key = it.key();
        EPLB_CHECK(
            key == "schema" || key == "name" || key == "description" || key == "defaults" || key == "cases",
            source << ": unknown key \"" << printable(key)
                   << "\" (known: schema, name, description, defaults, cases)");
    }
    if (j.contains("schema")) {
        EPLB_CHECK(j["schema"] == "eplb.check/v1",
                   source << ": schema is " << describe_value(j["schema"]) << ", expected \"eplb.check/v1\"");
    }
    CheckFile f;
    f.name = fs::path(source).stem().string();
    if (j.contains("name")) f.name = string_key(j, "name", source);
    json defaults = json::object();
    if (j.contains("defaults")) {
        defaults = j["defaults"];
        EPLB_CHECK(defaults.is_object(), source << ": defaults must be an object of case keys");
        EPLB_CHECK(!defaults.contains("name"),
                   source << ": defaults may not set \"name\" (names are per case)");
    }
    EPLB_CHECK(j.contains("cases") && j["cases"].is_array() && !j["cases"].empty(),
               source << ": \"cases\" must be a non-empty array of cases");
    std::set<std::string> names;
    for (size_t i = 0; i < j["cases"].size(); ++i) {
        const json& raw = j["cases"][i];
        std::string where = source + ": cases[" + std::to_string(i) + "]";
        EPLB_CHECK(raw.is_object(), where << " must be an object");
        if (raw.contains("name") && raw["name"].is_string())
            where += " (" + printable(raw["name"].get<std::string>()) + ")";
        json c = defaults;
        for (auto it = raw.begin(); it != raw.end(); ++it) c[it.key()] = it.value();
        CheckCase k = parse_case(c, source, where);
        EPLB_CHECK(names.insert(k.name).second, where << ": name \"" << k.name << "\" is used twice");
        f.cases.push_back(std::move(k));
    }
    return f;
}

CheckFile read_check_file(const std::string& path) { return parse_check_file(read_text_file(path), path); }

Baseline read_baseline(const std::string& path, const PlacementImportOptions& options) {
    const std::string text = read_text_file(path);
    EPLB_CHECK(!text.empty(), path << ": empty file");
    Baseline b;
    const std::string ext = extension_of(path);
    if (ext != "yaml" && ext != "yml") {
        // Only the root's keys and metrics' own values: a placement baseline can be 300 MB, whose
        // DOM would take ten times that just to learn it is not an evaluation.
        std::string top;
        const json::parser_callback_t summary = [&](int depth, json::parse_event_t event, json& parsed) {
            if (depth == 1 && event == json::parse_event_t::key) top = parsed.get<std::string>();
            return depth <= 1 || (depth == 2 && top == "metrics");
        };
        const json j = json::parse(text, summary, false);
        if (j.is_object() && j.contains("schema") && j["schema"] == "eplb.evaluation/v1") {
            EPLB_CHECK(j.contains("metrics") && j["metrics"].is_object() &&
                           j["metrics"].contains("balancedness") && j["metrics"]["balancedness"].is_number(),
                       path << ": an evaluation without metrics.balancedness");
            b.balancedness = j["metrics"]["balancedness"].get<double>();
            if (j.contains("load_digest")) {
                EPLB_CHECK(j["load_digest"].is_string(), path << ": load_digest must be a string");
                b.load_digest = j["load_digest"].get<std::string>();
            }
            return b;
        }
    }
    b.placement = read_any_placement(path, options, &b.format);
    return b;
}

}  // namespace eplb::io
