// TensorRT-LLM's moe_load_balancer YAML (see trtllm_placement.h). We write it ourselves, one layer
// a line; yaml-cpp reads it back, and whatever else TensorRT-LLM would read.
#include "io/trtllm_placement.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "eplb/error.h"
#include "eplb_config.h"

namespace eplb::io {

namespace {

// Aliases let a small file repeat one long list under many layers; a placement read from a file
// without aliases has at most one expert per byte, so only aliases can go past this many.
constexpr size_t kMaxAliasedExperts = size_t{1} << 22;
// The JSON readers' bound on an expert id, too.
constexpr int kExpertIdLimit = 1 << 24;

// A node for a message: a scalar quoted, anything else by its kind and size.
std::string describe(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Scalar:
            return '\'' + printable(n.Scalar()).append(1, '\'');
        case YAML::NodeType::Sequence:
            return "a list of " + std::to_string(n.size());
        case YAML::NodeType::Map:
            return "a mapping of " + std::to_string(n.size()) + " keys";
        default:
            return "empty";
    }
}

// The 1-based line of `n`; yaml-cpp places an empty value at the next token, so those take
// `fallback` (the line of their key).
int line_of(const YAML::Node& n, int fallback) {
    return n.IsNull() || n.Mark().is_null() ? fallback : n.Mark().line + 1;
}

// A decimal integer >= min, written plain or quoted (PyYAML reads '3' as a string, which
// TensorRT-LLM's config then takes as 3).
int yaml_int(const YAML::Node& n, const std::string& source, int line, const char* what, int min) {
    EPLB_CHECK(n.IsScalar(), source << ": line " << line << ": " << what << " is " << describe(n)
                                    << ", expected an integer >= " << min);
    const std::string& t = n.Scalar();
    int v = 0;
    const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    EPLB_CHECK(!t.empty() && ec == std::errc() && ptr == t.data() + t.size() && v >= min,
               source << ": line " << line << ": " << what << " '" << printable(t)
                      << "' is not an integer >= " << min);
    return v;
}

// yaml-cpp's exception as our invalid input, at its line:column. A tab in the indentation gets
// YAML's own rule rather than yaml-cpp's symptom of it ("illegal map value").
[[noreturn]] void fail_yaml(const YAML::Exception& e, const std::string& text, const std::string& source) {
    if (e.mark.is_null()) EPLB_FAIL(source << ": " << printable(e.msg, 120));
    std::istringstream in(text);
    std::string line;
    for (int i = 0; i <= e.mark.line && std::getline(in, line); ++i) {
    }
    const std::string indent = line.substr(0, line.find_first_not_of(" \t"));
    EPLB_CHECK(indent.find('\t') == std::string::npos,
               source << ": line " << e.mark.line + 1 << ": tabs are not allowed for indentation in YAML");
    EPLB_FAIL(source << ": line " << e.mark.line + 1 << ":" << e.mark.column + 1 << ": "
                     << printable(e.msg, 120));
}

// Where each document starts; nothing is built.
class DocumentStarts : public YAML::EventHandler {
  public:
    std::vector<YAML::Mark> marks;
    void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
};

// yaml.safe_load reads one document and refuses a second. Counted here by parsing two at most:
// yaml-cpp's LoadAll never returns on text its parser cannot advance over, such as "[]," (yaml-cpp
// issue 1040), where YAML::Load would read the first document and ignore the rest.
void check_one_document(const std::string& text, const std::string& source) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentStarts starts;
    if (parser.HandleNextDocument(starts) && parser.HandleNextDocument(starts)) {
        const YAML::Mark& second = starts.marks.back();
        EPLB_FAIL(source << ": line " << second.line + 1 << ":" << second.column + 1
                         << ": a second YAML document, or text after the first (TensorRT-LLM reads one)");
    }
}

// The keys of MoeLoadBalancerConfig, each at most once.
struct TrtllmKeys {
    int num_slots = -1;
    std::optional<YAML::Node> assignments;  // initial_global_assignments, when not empty
};

TrtllmKeys read_keys(const YAML::Node& root, const std::string& source) {
    TrtllmKeys keys;
    if (root.IsNull()) return keys;  // no document, or an empty one
    EPLB_CHECK(root.IsMap(), source << ": line " << line_of(root, 1)
                                    << ": expected a mapping of num_slots, initial_global_assignments and "
                                       "layer_updates_per_iter, found "
                                    << describe(root));
    std::set<std::string> seen;
    for (const auto& kv : root) {
        const int line = line_of(kv.first, 1);
        const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
        EPLB_CHECK(!kv.first.IsScalar() || seen.insert(key).second,
                   source << ": line " << line << ": key " << describe(kv.first) << " appears twice");
        const int value_line = line_of(kv.second, line);
        if (key == "num_slots") {
            keys.num_slots = yaml_int(kv.second, source, value_line, "num_slots", 1);
        } else if (key == "layer_updates_per_iter") {
            yaml_int(kv.second, source, value_line, "layer_updates_per_iter", 0);
        } else if (key == "initial_global_assignments") {
            if (kv.second.IsNull()) continue;
            EPLB_CHECK(kv.second.IsMap(), source << ": line " << value_line
                                                 << ": initial_global_assignments is " << describe(kv.second)
                                                 << ", expected a mapping of layer index to experts");
            keys.assignments = kv.second;
        } else {
            EPLB_FAIL(source << ": line " << line << ": unknown key " << describe(kv.first)
                             << " (TensorRT-LLM's MoeLoadBalancerConfig takes num_slots, "
                                "initial_global_assignments, layer_updates_per_iter)");
        }
    }
    return keys;
}

PlacementDoc read_trtllm_yaml(const std::string& text, const std::string& source,
                              const PlacementImportOptions& o) {
    check_one_document(text, source);
    const TrtllmKeys keys = read_keys(YAML::Load(text), source);
    EPLB_CHECK(keys.num_slots > 0, source << ": num_slots is missing");
    EPLB_CHECK(keys.assignments && keys.assignments->size() > 0,
               source << ": initial_global_assignments is missing or empty");
    const int num_slots = keys.num_slots;
    std::map<int, std::vector<int>> layers;
    size_t experts = 0;
    for (const auto& kv : *keys.assignments) {
        const int line = line_of(kv.first, 1);
        const int layer = yaml_int(kv.first, source, line, "layer index", 0);
        EPLB_CHECK(!layers.count(layer),
                   source << ": line " << line << ": layer " << layer << " appears twice");
        const YAML::Node& list = kv.second;
        EPLB_CHECK(list.IsSequence(), source << ": line " << line << ": layer " << layer << " maps to "
                                             << describe(list) << ", expected a list of experts");
        EPLB_CHECK(list.size() == static_cast<size_t>(num_slots),
                   source << ": layer " << layer << " lists " << list.size() << " experts but num_slots is "
                          << num_slots);
        experts += list.size();
        EPLB_CHECK(experts <= std::max(text.size(), kMaxAliasedExperts),
                   source << ": line " << line << ": layer " << layer << ": aliases repeat lists past "
                          << std::max(text.size(), kMaxAliasedExperts) << " experts in all");
        std::vector<int>& row = layers[layer];
        for (const YAML::Node& e : list) {
            const int expert = yaml_int(e, source, line_of(e, line), "expert", 0);
            EPLB_CHECK(expert < kExpertIdLimit, source << ": line " << line_of(e, line) << ": expert "
                                                       << expert << " is too large (expert ids are below "
                                                       << kExpertIdLimit << ")");
            row.push_back(expert);
        }
    }
    IndexMatrix phy2log(static_cast<Eigen::Index>(layers.size()), num_slots);
    std::vector<int> ids;
    for (const auto& [layer, row] : layers) {
        const auto r = static_cast<Eigen::Index>(ids.size());
        for (int s = 0; s < num_slots; ++s) phy2log(r, s) = row[static_cast<size_t>(s)];
        ids.push_back(layer);
    }
    return doc_from_phy2log(phy2log, ids, o, source, "trtllm");
}

}  // namespace

std::string placement_to_trtllm_yaml(const PlacementDoc& d) {
    const ParallelConfig& c = d.config;
    std::string out = "# TensorRT-LLM MoE load balancer config (moe_config.load_balancer), written by eplb " +
                      std::string(EPLB_VERSION) + ":\n# a static placement (" + d.policy + " policy) of " +
                      std::to_string(c.num_logical_experts) + " experts on " +
                      std::to_string(c.num_physical_experts) + " slots, " + std::to_string(c.num_gpus) +
                      " EP ranks x " + std::to_string(c.slots_per_gpu()) +
                      " slots; keys are model layer indices.\n";
    out += "num_slots: " + std::to_string(c.num_physical_experts) + "\n";
    out += "initial_global_assignments:\n";
    for (int l = 0; l < d.placement.num_layers(); ++l) {
        out += "  " + std::to_string(d.layer_ids[l]) + ": ";
        append_row(out, d.placement.phy2log.row(l).data(), d.placement.num_slots());
        out += "\n";
    }
    out += "layer_updates_per_iter: 0\n";
    return out;
}

PlacementDoc with_mtp_layers(const PlacementDoc& doc, int first_id, int count, std::vector<int>* added) {
    std::vector<int> missing;
    for (int id = first_id; id < first_id + count; ++id) {
        if (std::find(doc.layer_ids.begin(), doc.layer_ids.end(), id) == doc.layer_ids.end())
            missing.push_back(id);
    }
    if (added) *added = missing;
    if (missing.empty()) return doc;
    const Placement& p = doc.placement;
    const int r = p.num_slots(), e = p.num_experts();
    // Rows in increasing layer id: the MTP ids follow the MoE layers.
    std::vector<std::pair<int, int>> order;  // (layer id, row in doc or -1 for a default row)
    for (int l = 0; l < p.num_layers(); ++l) order.emplace_back(doc.layer_ids[l], l);
    for (int id : missing) order.emplace_back(id, -1);
    std::sort(order.begin(), order.end());
    const auto n = static_cast<Eigen::Index>(order.size());
    PlacementDoc out = doc;
    out.placement = Placement{IndexMatrix(n, r), IndexMatrix(n, r), IndexMatrix::Zero(n, e)};
    out.layer_ids.clear();
    for (Eigen::Index i = 0; i < n; ++i) {
        const auto [id, row] = order[static_cast<size_t>(i)];
        out.layer_ids.push_back(id);
        if (row >= 0) {
            out.placement.phy2log.row(i) = p.phy2log.row(row);
            out.placement.phyrank.row(i) = p.phyrank.row(row);
            out.placement.logcnt.row(i) = p.logcnt.row(row);
            continue;
        }
        // WideEPMoE's own default: rank q's local slot k holds expert (q·E/P + k) mod E.
        const int p_gpus = doc.config.num_gpus, per_gpu = r / p_gpus;
        IndexMatrix row_map(1, r);
        for (int s = 0; s < r; ++s) {
            const int64_t q = s / per_gpu, k = s % per_gpu;
            row_map(0, s) = static_cast<int32_t>((q * e / p_gpus + k) % e);
        }
        const Placement d = placement_from_phy2log(row_map, e);
        out.placement.phy2log.row(i) = d.phy2log.row(0);
        out.placement.phyrank.row(i) = d.phyrank.row(0);
        out.placement.logcnt.row(i) = d.logcnt.row(0);
    }
    out.layer_sources.clear();  // per-row provenance of --previous does not cover the added rows
    out.node_bounds.clear();
    return out;
}

PlacementDoc parse_trtllm_yaml(const std::string& text, const std::string& source,
                               const PlacementImportOptions& options) {
    try {
        return read_trtllm_yaml(text, source, options);
    } catch (const YAML::Exception& e) {
        fail_yaml(e, text, source);
    }
}

}  // namespace eplb::io
