// Trace formats (see trace_io.h). nlohmann/json stays inside this file.
#include "io/trace_io.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>

#include "eplb/error.h"
#include "io/file_util.h"
#include "io/json_util.h"
#include "io/json_writer.h"
#include "io/npy.h"
#include "io/sglang_pt.h"
#include "io/torch_pt.h"
#include "io/trtllm_stats.h"

namespace eplb::io {

using nlohmann::json;

namespace {

// Flattens a nested JSON array of numbers of the given depth (2 or 3) into `out`, checking that
// it is rectangular; `where` is the key path for messages ("logical_count").
void flatten(const json& j, int depth, std::vector<int>& shape, std::vector<float>& out,
             const std::string& source, const std::string& where, int level = 0) {
    if (level == depth) {
        EPLB_CHECK(j.is_number(),
                   source << ": " << where << " is " << describe_value(j) << ", expected a number");
        const double v = j.get<double>();
        EPLB_CHECK(std::isfinite(v) && v >= 0.0, source << ": " << where << " is " << describe_value(j)
                                                        << ": loads must be finite and >= 0");
        EPLB_CHECK(is_float32_load(v),
                   source << ": " << where << " is " << describe_value(j) << ": too large for float32");
        out.push_back(static_cast<float>(v));
        return;
    }
    EPLB_CHECK(j.is_array(), source << ": " << where << " is " << (j.is_null() ? "null" : j.type_name())
                                    << ", expected an array of " << depth - level << " dimension"
                                    << (depth - level > 1 ? "s" : ""));
    const int n = static_cast<int>(j.size());
    EPLB_CHECK(n > 0, source << ": " << where << " is empty");
    if (static_cast<int>(shape.size()) == level) {
        shape.push_back(n);
    } else {
        EPLB_CHECK(shape[level] == n, source << ": " << where << " has " << n << " entries, expected "
                                             << shape[level] << " (rows must all have the same length)");
    }
    for (int i = 0; i < n; ++i)
        flatten(j[i], depth, shape, out, source, where + "[" + std::to_string(i) + "]", level + 1);
}

// Depth of nesting of arrays at the front of j: [[1]] -> 2.
int array_depth(const json& j) {
    int d = 0;
    const json* p = &j;
    while (p->is_array() && !p->empty()) {
        ++d;
        p = &(*p)[0];
    }
    return d;
}

LoadTrace from_flat(const std::vector<int>& shape, std::vector<float> values) {
    LoadTrace t;
    if (shape.size() == 2) {
        t.num_steps = 1;
        t.num_layers = shape[0];
        t.num_experts = shape[1];
    } else {
        t.num_steps = shape[0];
        t.num_layers = shape[1];
        t.num_experts = shape[2];
    }
    t.values = std::move(values);
    // Row numbers, not model layers: the callers whose format names its layers say so.
    for (int l = 0; l < t.num_layers; ++l) t.layer_ids.push_back(l);
    t.has_layer_ids = false;
    return t;
}

LoadTrace read_loads_array(const json& j, const std::string& source, const std::string& key, bool allow_2d) {
    const int depth = array_depth(j);
    EPLB_CHECK((depth == 2 && allow_2d) || depth == 3, source << ": " << key << " must be an array "
                                                              << (allow_2d ? "[layers][experts] or " : "")
                                                              << "[steps][layers][experts] of numbers");
    std::vector<int> shape;
    std::vector<float> values;
    flatten(j, depth, shape, values, source, key);
    return from_flat(shape, std::move(values));
}

}  // namespace

LoadTrace parse_trace_json(const std::string& text, const std::string& source) {
    const json j = parse_json(text, source);
    EPLB_CHECK(j.is_object(),
               source << ": expected a JSON object with \"logical_count\", \"load_history\" or "
                         "\"schema\": \"eplb.trace/v1\"");
    LoadTrace t;
    if (j.contains("schema")) {
        EPLB_CHECK(j["schema"] == "eplb.trace/v1",
                   source << ": schema is " << describe_value(j["schema"]) << ", expected \"eplb.trace/v1\"");
        EPLB_CHECK(j.contains("load"), source << ": missing key \"load\" ([steps][layers][experts])");
        t = read_loads_array(j["load"], source, "load", false);
        if (j.contains("layers")) {
            const json& ids = j["layers"];
            EPLB_CHECK(
                ids.is_array() && static_cast<int>(ids.size()) == t.num_layers,
                source << ": \"layers\" must list one model layer id per row (" << t.num_layers << ")");
            for (int l = 0; l < t.num_layers; ++l) {
                EPLB_CHECK(ids[l].is_number_integer() && ids[l].get<int64_t>() >= 0 &&
                               ids[l].get<int64_t>() < (1 << 30),
                           source << ": layers[" << l << "] is " << describe_value(ids[l])
                                  << ", expected a layer id >= 0");
                t.layer_ids[l] = ids[l].get<int>();
                EPLB_CHECK(
                    l == 0 || t.layer_ids[l] > t.layer_ids[l - 1],
                    source << ": layers must be increasing (layers[" << l << "] = " << t.layer_ids[l] << ")");
            }
            t.has_layer_ids = true;
        }
        if (j.contains("model") && j["model"].is_string()) t.model = j["model"].get<std::string>();
    } else if (j.contains("logical_count")) {
        t = read_loads_array(j["logical_count"], source, "logical_count", true);
        t.has_layer_ids = true;  // SGLang writes a row per model layer, dense layers included
    } else if (j.contains("load_history")) {
        const json& h = j["load_history"];
        EPLB_CHECK(h.is_array() && !h.empty(), source << ": load_history must be a non-empty array of steps");
        std::vector<int> shape;
        std::vector<float> values;
        for (size_t s = 0; s < h.size(); ++s) {
            const std::string where = "load_history[" + std::to_string(s) + "]";
            EPLB_CHECK(h[s].is_object() && h[s].contains("logical_expert_load"),
                       source << ": " << where << " has no key \"logical_expert_load\"");
            std::vector<int> step_shape = s == 0 ? std::vector<int>{} : std::vector<int>{shape[1], shape[2]};
            flatten(h[s]["logical_expert_load"], 2, step_shape, values, source,
                    where + ".logical_expert_load");
            if (s == 0) shape = {0, step_shape[0], step_shape[1]};
        }
        shape[0] = static_cast<int>(h.size());
        t = from_flat(shape, std::move(values));
    } else {
        std::string keys;
        for (auto it = j.begin(); it != j.end(); ++it)
            keys += (keys.empty() ? "" : ", ") + printable(it.key());
        EPLB_FAIL(
            source
            << ": no trace found: expected key \"logical_count\", \"load_history\" or \"schema\", found {"
            << keys << "}");
    }
    validate_trace(t, source);
    return t;
}

LoadTrace parse_trace_csv(const std::string& text, const std::string& source) {
    std::istringstream in(text);
    std::string line;
    struct Entry {
        int step, layer, expert;
        float load;
    };
    std::vector<Entry> entries;
    int line_no = 0, max_step = -1, max_expert = -1;
    std::map<int, int> layer_rows;
    while (std::getline(in, line)) {
        ++line_no;
        // Spreadsheets write a UTF-8 byte-order mark first.
        if (line_no == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        if (line_no == 1 && line.rfind("step", 0) == 0) {
            EPLB_CHECK(line == "step,layer,expert,load", source << ": line 1: header is '" << printable(line)
                                                                << "', expected 'step,layer,expert,load'");
            continue;
        }
        std::string fields[4];
        std::istringstream ls(line);
        int n = 0;
        while (n < 5 && std::getline(ls, fields[std::min(n, 3)], ',')) ++n;
        EPLB_CHECK(n == 4,
                   source << ": line " << line_no << ": expected 4 fields step,layer,expert,load, got " << n);
        int ints[3];
        for (int k = 0; k < 3; ++k) {
            const std::string& f = fields[k];
            auto [ptr, ec] = std::from_chars(f.data(), f.data() + f.size(), ints[k]);
            EPLB_CHECK(ec == std::errc() && ptr == f.data() + f.size() && ints[k] >= 0 && ints[k] < (1 << 24),
                       source << ": line " << line_no << ": "
                              << (k == 0   ? "step"
                                  : k == 1 ? "layer"
                                           : "expert")
                              << " '" << printable(f) << "' is not an integer in [0, 2^24)");
        }
        char* end = nullptr;
        const double v = std::strtod(fields[3].c_str(), &end);
        EPLB_CHECK(!fields[3].empty() && end && *end == '\0', source << ": line " << line_no << ": load '"
                                                                     << printable(fields[3])
                                                                     << "' is not a number");
        EPLB_CHECK(is_float32_load(v), source << ": line " << line_no << ": load " << printable(fields[3])
                                              << " must be finite and >= 0, at most " << kMaxLoad
                                              << " (float32)");
        entries.push_back({ints[0], ints[1], ints[2], static_cast<float>(v)});
        max_step = std::max(max_step, ints[0]);
        max_expert = std::max(max_expert, ints[2]);
        layer_rows[ints[1]] = 0;
    }
    EPLB_CHECK(!entries.empty(), source << ": no rows (expected step,layer,expert,load lines)");
    LoadTrace t;
    t.num_steps = max_step + 1;
    t.num_layers = static_cast<int>(layer_rows.size());
    t.num_experts = max_expert + 1;
    // Rows not listed are zero, so the ids alone set the size: bound it by the rows given, or two
    // lines naming step 60 and expert 16,000,000 would make us allocate 5 GB.
    const double dense = static_cast<double>(t.num_steps) * t.num_layers * t.num_experts;
    EPLB_CHECK(
        dense <= 1e9 && dense <= std::max(double{1 << 20}, 1024.0 * static_cast<double>(entries.size())),
        source << ": the trace would be " << t.num_steps << " steps x " << t.num_layers << " layers x "
               << t.num_experts << " experts from only " << entries.size()
               << " rows (missing rows count as zero; at most 1024 values per row and 1e9 in all): "
                  "check the step and expert columns");
    int row = 0;
    for (auto& [id, r] : layer_rows) {
        r = row++;
        t.layer_ids.push_back(id);
    }
    t.values.assign(static_cast<size_t>(t.num_steps) * t.num_layers * t.num_experts, 0.0f);
    std::vector<uint8_t> seen(t.values.size(), 0);
    for (const Entry& e : entries) {
        const size_t i =
            (static_cast<size_t>(e.step) * t.num_layers + layer_rows[e.layer]) * t.num_experts + e.expert;
        EPLB_CHECK(!seen[i]++, source << ": step " << e.step << ", layer " << e.layer << ", expert "
                                      << e.expert << " appears twice");
        t.values[i] = e.load;
    }
    validate_trace(t, source);
    return t;
}

LoadTrace parse_trace_npy(const std::string& bytes, const std::string& source) {
    const NpyHeader h = parse_npy_header(bytes, source);
    EPLB_CHECK(h.count <= 4'000'000'000ll, source << ": .npy array is too large");
    const size_t expected = static_cast<size_t>(h.count) * h.item_size;
    EPLB_CHECK(bytes.size() - h.data_offset == expected,
               source << ": .npy data is " << bytes.size() - h.data_offset << " bytes, the header promises "
                      << expected);
    std::vector<float> values(static_cast<size_t>(h.count));
    npy_to_float(bytes.data() + h.data_offset, h.type, h.count, values.data());
    std::vector<int> ishape(h.shape.begin(), h.shape.end());
    LoadTrace t = from_flat(ishape, std::move(values));
    validate_trace(t, source);  // names the step, layer and expert of a bad value
    return t;
}

LoadTrace read_trace(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        return is_sglang_dump_dir(path) ? read_sglang_pt(path) : read_trtllm_stats(path);
    const std::string ext = extension_of(path);
    // torch.save archives are read in place (a whole-file copy of a long dump would double memory).
    if (ext == "pt" || ext == "pth" || looks_like_torch_file(path)) return read_sglang_pt(path);
    const std::string content = read_text_file(path);
    if (ext == "csv") return parse_trace_csv(content, path);
    if (ext == "npy") return parse_trace_npy(content, path);
    return parse_trace_json(content, path);
}

namespace {

// Steps are read in chunks of about this many values: a few MB, however long the trace.
constexpr size_t kChunkValues = size_t{1} << 22;

// Calls f(step, data [L][E]) for the steps of `source` in increasing order, reading a chunk of steps
// at a time (a generator then spreads its layers over the cores), and reports each chunk done.
template <typename F>
void for_each_step(StepSource& source, const StepProgress& progress, F&& f) {
    const int total = source.num_steps();
    const size_t step_size = static_cast<size_t>(source.num_layers()) * source.num_experts();
    const int chunk = static_cast<int>(
        std::clamp<size_t>(kChunkValues / std::max<size_t>(step_size, 1), 1, static_cast<size_t>(total)));
    std::vector<float> buf(static_cast<size_t>(chunk) * step_size);
    for (int first = 0; first < total; first += chunk) {
        const int n = std::min(chunk, total - first);
        source.load_steps(first, n, buf.data());
        for (int i = 0; i < n; ++i) f(first + i, buf.data() + static_cast<size_t>(i) * step_size);
        if (progress) progress(first + n, total);
    }
}

// float -> double is exact: the same digits nlohmann prints for a stored float.
void write_row(JsonWriter& w, const float* row, int n) {
    w.begin_array();
    for (int e = 0; e < n; ++e) w.value(static_cast<double>(row[e]));
    w.end_array();
}

void write_eplb_json(std::ostream& out, StepSource& source, const TraceInfo& info,
                     const StepProgress& progress) {
    const int experts = source.num_experts();
    JsonWriter w(out);
    w.begin_object();
    w.key("schema");
    w.value("eplb.trace/v1");
    if (!info.model.empty()) {
        w.key("model");
        w.value(info.model);
    }
    if (info.has_layer_ids) {  // without them the rows are only numbered: say nothing
        w.key("layers");
        w.array(info.layer_ids);
    }
    w.key("load");
    w.begin_array();
    for_each_step(source, progress, [&](int, const float* step) {
        w.begin_array();
        for (int l = 0; l < source.num_layers(); ++l)
            write_row(w, step + static_cast<size_t>(l) * experts, experts);
        w.end_array();
    });
    w.end_array();
    w.end_object();
    w.finish();
}

void write_sglang_json(std::ostream& out, StepSource& source, const TraceInfo& info,
                       const StepProgress& progress) {
    const std::vector<int>& ids = info.layer_ids;
    const int rows = std::max(info.num_model_layers, ids.empty() ? 0 : ids.back() + 1);
    EPLB_CHECK(info.num_model_layers == 0 || info.num_model_layers >= rows,
               "num_model_layers (" << info.num_model_layers << ") is below the trace's last layer id + 1 ("
                                    << rows << ")");
    std::vector<int> row_of_id(static_cast<size_t>(rows), -1);
    for (int l = 0; l < static_cast<int>(ids.size()); ++l) row_of_id[ids[l]] = l;
    const int experts = source.num_experts();
    const std::vector<float> zeros(static_cast<size_t>(experts), 0.0f);
    JsonWriter w(out);
    w.begin_object();
    w.key("logical_count");
    w.begin_array();
    for_each_step(source, progress, [&](int, const float* step) {
        w.begin_array();
        for (int id = 0; id < rows; ++id) {
            const int l = row_of_id[id];
            write_row(w, l < 0 ? zeros.data() : step + static_cast<size_t>(l) * experts, experts);
        }
        w.end_array();
    });
    w.end_array();
    w.end_object();
    w.finish();
}

void write_vllm_json(std::ostream& out, StepSource& source, const StepProgress& progress) {
    const int experts = source.num_experts();
    JsonWriter w(out);
    w.begin_object();
    w.key("load_history");
    w.begin_array();
    for_each_step(source, progress, [&](int, const float* step) {
        w.begin_object();
        w.key("logical_expert_load");
        w.begin_array();
        for (int l = 0; l < source.num_layers(); ++l)
            write_row(w, step + static_cast<size_t>(l) * experts, experts);
        w.end_array();
        w.end_object();
    });
    w.end_array();
    w.end_object();
    w.finish();
}

void write_csv(std::ostream& out, StepSource& source, const TraceInfo& info, const StepProgress& progress) {
    const int experts = source.num_experts();
    std::string text = "step,layer,expert,load\n";
    char buf[64];
    for_each_step(source, progress, [&](int s, const float* step) {
        for (int l = 0; l < source.num_layers(); ++l) {
            for (int e = 0; e < experts; ++e) {
                const float v = step[static_cast<size_t>(l) * experts + e];
                const int n = std::snprintf(buf, sizeof buf, "%d,%d,%d,%.9g\n", s, info.layer_ids[l], e, v);
                text.append(buf, static_cast<size_t>(n));
            }
        }
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        text.clear();
    });
}

void write_npy(std::ostream& out, StepSource& source, const StepProgress& progress) {
    const std::string preamble = npy_preamble(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(source.num_steps()) + ", " +
        std::to_string(source.num_layers()) + ", " + std::to_string(source.num_experts()) + "), }");
    out.write(preamble.data(), static_cast<std::streamsize>(preamble.size()));
    const size_t step_bytes = static_cast<size_t>(source.num_layers()) * source.num_experts() * sizeof(float);
    for_each_step(source, progress, [&](int, const float* step) {
        out.write(reinterpret_cast<const char*>(step), static_cast<std::streamsize>(step_bytes));
    });
}

std::string to_string(TraceFormat format, const LoadTrace& t, int num_model_layers = 0) {
    TraceStepSource source(t);
    std::ostringstream out;
    write_trace_steps(out, format, source,
                      TraceInfo{t.layer_ids, t.model, num_model_layers, t.has_layer_ids});
    return out.str();
}

}  // namespace

const char* trace_format_name(TraceFormat format) {
    switch (format) {
        case TraceFormat::kEplb:
            return "eplb";
        case TraceFormat::kSglang:
            return "sglang";
        case TraceFormat::kVllm:
            return "vllm";
        case TraceFormat::kCsv:
            return "csv";
        case TraceFormat::kNpy:
            return "npy";
    }
    return "?";
}

void write_trace_steps(std::ostream& out, TraceFormat format, StepSource& source, const TraceInfo& info,
                       const StepProgress& progress) {
    EPLB_CHECK(static_cast<int>(info.layer_ids.size()) == source.num_layers(),
               "a trace of " << source.num_layers() << " layers needs " << source.num_layers()
                             << " layer ids, got " << info.layer_ids.size());
    switch (format) {
        case TraceFormat::kEplb:
            return write_eplb_json(out, source, info, progress);
        case TraceFormat::kSglang:
            return write_sglang_json(out, source, info, progress);
        case TraceFormat::kVllm:
            return write_vllm_json(out, source, progress);
        case TraceFormat::kCsv:
            return write_csv(out, source, info, progress);
        case TraceFormat::kNpy:
            return write_npy(out, source, progress);
    }
}

void write_trace_json(std::ostream& out, const LoadTrace& t) {
    TraceStepSource source(t);
    write_trace_steps(out, TraceFormat::kEplb, source, TraceInfo{t.layer_ids, t.model, 0, t.has_layer_ids});
}

std::string trace_to_json(const LoadTrace& t) { return to_string(TraceFormat::kEplb, t); }

std::string trace_to_sglang_json(const LoadTrace& t, int num_model_layers) {
    return to_string(TraceFormat::kSglang, t, num_model_layers);
}

std::string trace_to_vllm_json(const LoadTrace& t) { return to_string(TraceFormat::kVllm, t); }

std::string trace_to_csv(const LoadTrace& t) { return to_string(TraceFormat::kCsv, t); }

std::string trace_to_npy(const LoadTrace& t) { return to_string(TraceFormat::kNpy, t); }

TraceFormat trace_format_of(const std::string& path) {
    const std::string ext = extension_of(path);
    if (ext == "csv") return TraceFormat::kCsv;
    if (ext == "npy") return TraceFormat::kNpy;
    // stdout (-, /dev/stdout) has no extension: JSON.
    EPLB_CHECK(ext == "json" || is_stdout_path(path),
               path << ": unknown trace format '." << ext << "' (use .json, .csv or .npy)");
    return TraceFormat::kEplb;
}

void write_trace(StepSource& source, const TraceInfo& info, const std::string& path, TraceFormat format,
                 const StepProgress& progress) {
    write_file_atomic(path,
                      [&](std::ostream& out) { write_trace_steps(out, format, source, info, progress); });
}

void write_trace(const LoadTrace& trace, const std::string& path) {
    const TraceFormat format = trace_format_of(path);
    TraceStepSource source(trace);
    write_trace(source, TraceInfo{trace.layer_ids, trace.model, 0, trace.has_layer_ids}, path, format);
}

}  // namespace eplb::io
