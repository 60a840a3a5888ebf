// Config file reader (see config_io.h).
#include "io/config_io.h"

#include "eplb/error.h"
#include "io/file_util.h"
#include "io/json_util.h"
#include "io/report.h"

namespace eplb::io {

using nlohmann::json;

namespace {

int64_t integer_key(const json& j, const std::string& key, const std::string& source, int64_t min,
                    int64_t max) {
    const json& v = j.at(key);
    EPLB_CHECK(
        v.is_number_integer() || (v.is_number_float() && v.get<double>() == std::floor(v.get<double>())),
        source << ": " << key << " is " << describe_value(v) << ", expected an integer");
    const double d = v.get<double>();
    EPLB_CHECK(d >= static_cast<double>(min) && d <= static_cast<double>(max),
               source << ": " << key << " is " << describe_value(v) << ", expected " << min << ".." << max);
    return v.is_number_integer() ? v.get<int64_t>() : static_cast<int64_t>(d);
}

}  // namespace

ConfigFile parse_config_json(const std::string& text, const std::string& source) {
    const json j = parse_json(text, source);
    EPLB_CHECK(j.is_object(), source << ": expected a JSON object of config keys");
    ConfigFile c;
    constexpr int kMaxCount = 1 << 24;
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& key = it.key();
        auto small = [&](std::optional<int>& field, int min) {
            field = static_cast<int>(integer_key(j, key, source, min, kMaxCount));
        };
        if (key == "num_groups") {
            small(c.num_groups, 1);
        } else if (key == "num_nodes") {
            small(c.num_nodes, 1);
        } else if (key == "num_gpus") {
            small(c.num_gpus, 1);
        } else if (key == "num_redundant_experts") {
            small(c.num_redundant_experts, 0);
        } else if (key == "num_physical_experts") {
            small(c.num_physical_experts, 1);
        } else if (key == "num_logical_experts") {
            small(c.num_logical_experts, 1);
        } else if (key == "window_size") {
            small(c.window_size, 1);
        } else if (key == "step_interval") {
            small(c.step_interval, 1);
        } else if (key == "top_k") {
            small(c.top_k, 1);
        } else if (key == "num_nextn_predict_layers") {
            c.num_nextn_predict_layers = static_cast<int>(integer_key(j, key, source, 0, 64));
        } else if (key == "expert_bytes") {
            c.expert_bytes = integer_key(j, key, source, 1, int64_t{1} << 40);
        } else if (key == "moe_layers") {
            const json& v = it.value();
            EPLB_CHECK(v.is_array() && v.size() == 2 && v[0].is_number_integer() && v[1].is_number_integer(),
                       source << ": moe_layers is " << describe_value(v) << ", expected [first, end)");
            const int64_t a = v[0].get<int64_t>(), b = v[1].get<int64_t>();
            EPLB_CHECK(a >= 0 && b > a && b <= kMaxCount,
                       source << ": moe_layers " << v.dump() << " must satisfy 0 <= first < end");
            c.moe_layers = Range{static_cast<int>(a), static_cast<int>(b)};
        } else if (key == "policy" || key == "model" || key == "description") {
            EPLB_CHECK(it.value().is_string(), source << ": " << key << " is " << describe_value(it.value())
                                                      << ", expected a string");
            const std::string s = it.value().get<std::string>();
            if (key == "policy") c.policy = s;
            if (key == "model") c.model = s;
            if (key == "description") c.description = s;
        } else {
            EPLB_FAIL(source << ": unknown key \"" << printable(key) << "\" (known: " << join(config_keys())
                             << ")");
        }
    }
    EPLB_CHECK(!(c.num_redundant_experts && c.num_physical_experts),
               source << ": give num_redundant_experts or num_physical_experts, not both");
    return c;
}

const std::vector<std::string>& config_keys() {
    static const std::vector<std::string> keys = {"num_groups",
                                                  "num_nodes",
                                                  "num_gpus",
                                                  "num_redundant_experts",
                                                  "num_physical_experts",
                                                  "num_logical_experts",
                                                  "moe_layers",
                                                  "expert_bytes",
                                                  "window_size",
                                                  "step_interval",
                                                  "top_k",
                                                  "num_nextn_predict_layers",
                                                  "policy",
                                                  "model",
                                                  "description"};
    return keys;
}

void apply_config_overrides(ConfigFile& base, const ConfigFile& o) {
    auto set = [](auto& field, const auto& value) {
        if (value) field = value;
    };
    set(base.num_groups, o.num_groups);
    set(base.num_nodes, o.num_nodes);
    set(base.num_gpus, o.num_gpus);
    // R is given one way or the other: an override of either replaces both.
    if (o.num_redundant_experts || o.num_physical_experts) {
        base.num_redundant_experts = o.num_redundant_experts;
        base.num_physical_experts = o.num_physical_experts;
    }
    set(base.num_logical_experts, o.num_logical_experts);
    set(base.moe_layers, o.moe_layers);
    set(base.expert_bytes, o.expert_bytes);
    set(base.window_size, o.window_size);
    set(base.step_interval, o.step_interval);
    set(base.top_k, o.top_k);
    set(base.num_nextn_predict_layers, o.num_nextn_predict_layers);
    set(base.policy, o.policy);
    if (!o.model.empty()) base.model = o.model;
    if (!o.description.empty()) base.description = o.description;
}

ConfigFile read_config(const std::string& path) { return parse_config_json(read_text_file(path), path); }

}  // namespace eplb::io
