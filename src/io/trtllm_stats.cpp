// TensorRT-LLM expert statistics and the safetensors container (see trtllm_stats.h).
#include "io/trtllm_stats.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include "eplb/error.h"
#include "io/file_util.h"
#include "io/json_util.h"

namespace eplb::io {

namespace fs = std::filesystem;
using nlohmann::json;

// The raw data is little-endian; so is every machine this runs on (x86-64, AArch64).
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

// Bytes per element of the dtypes whose values can be read as counts; 0 for the others.
size_t dtype_size(const std::string& dtype) {
    if (dtype == "I8" || dtype == "U8") return 1;
    if (dtype == "I16" || dtype == "U16") return 2;
    if (dtype == "I32" || dtype == "U32" || dtype == "F32") return 4;
    if (dtype == "I64" || dtype == "U64" || dtype == "F64") return 8;
    return 0;
}

// The safetensors format caps the header at 100 MB; anything larger is not a safetensors file.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// "123" -> 123; false unless the whole text is a non-negative decimal below 2^31.
bool parse_index(const std::string& text, int& out) {
    if (text.empty() || text.size() > 10) return false;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && ptr == text.data() + text.size() && out >= 0;
}

}  // namespace

SafeTensors parse_safetensors(const std::string& bytes, const std::string& source) {
    EPLB_CHECK(bytes.size() >= 8, source << ": not a safetensors file (" << bytes.size() << " bytes, the "
                                         << "8-byte header length is missing)");
    uint64_t header_len = 0;
    std::memcpy(&header_len, bytes.data(), 8);
    EPLB_CHECK(header_len >= 2 && header_len <= kMaxHeaderBytes && header_len <= bytes.size() - 8,
               source << ": not a safetensors file (header length " << header_len << " for a file of "
                      << bytes.size() << " bytes)");
    json header;
    try {
        header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_len));
    } catch (const json::parse_error& e) {
        EPLB_FAIL(source << ": safetensors header is not valid JSON (byte " << e.byte << "): " << e.what());
    } catch (const json::exception& e) {
        // A number beyond double's range is out_of_range 406 (found by tests/fuzz, corpus
        // safetensors/regress-number-overflow).
        EPLB_FAIL(source << ": safetensors header is not valid JSON: " << e.what());
    }
    EPLB_CHECK(header.is_object(), source << ": safetensors header is not a JSON object");
    const size_t data_start = 8 + static_cast<size_t>(header_len);
    const size_t data_size = bytes.size() - data_start;
    SafeTensors tensors;
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") continue;
        const std::string where = source + ": tensor \"" + printable(it.key()) + "\"";
        const json& t = it.value();
        EPLB_CHECK(t.is_object() && t.contains("dtype") && t["dtype"].is_string() && t.contains("shape") &&
                       t["shape"].is_array() && t.contains("data_offsets") && t["data_offsets"].is_array() &&
                       t["data_offsets"].size() == 2,
                   where << " needs \"dtype\", \"shape\" and \"data_offsets\" [begin, end]");
        SafeTensor tensor;
        tensor.dtype = t["dtype"].get<std::string>();
        uint64_t count = 1;
        for (const json& d : t["shape"]) {
            EPLB_CHECK(
                d.is_number_integer() && d.get<int64_t>() >= 0 && d.get<int64_t>() < (int64_t{1} << 40),
                where << " has a bad shape " << describe_value(t["shape"]));
            tensor.shape.push_back(d.get<int64_t>());
            count *= static_cast<uint64_t>(d.get<int64_t>());
            EPLB_CHECK(count < (uint64_t{1} << 40),
                       where << " has a bad shape " << describe_value(t["shape"]));
        }
        const json& off = t["data_offsets"];
        EPLB_CHECK(off[0].is_number_unsigned() && off[1].is_number_unsigned(),
                   where << " has bad data_offsets " << describe_value(off));
        const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
        EPLB_CHECK(begin <= end && end <= data_size, where << ": data_offsets [" << begin << "," << end << "]"
                                                           << " lie outside the " << data_size
                                                           << " data bytes (truncated file?)");
        const size_t item = dtype_size(tensor.dtype);
        if (item != 0) {
            EPLB_CHECK(end - begin == count * item, where << ": " << end - begin << " data bytes for "
                                                          << count << " elements of " << tensor.dtype);
        }
        tensor.data = bytes.substr(data_start + begin, end - begin);
        tensors.emplace(it.key(), std::move(tensor));
    }
    return tensors;
}

std::string to_safetensors(const SafeTensors& tensors) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    uint64_t offset = 0;
    for (const auto& [key, t] : tensors) {
        header[key] = {
            {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.data.size()}}};
        offset += t.data.size();
    }
    std::string text = header.dump();
    // The data that follows starts 8-byte aligned; the format pads the header with spaces.
    text.append((8 - text.size() % 8) % 8, ' ');
    std::string out(8, '\0');
    const uint64_t len = text.size();
    std::memcpy(out.data(), &len, 8);
    out += text;
    for (const auto& entry : tensors) out += entry.second.data;
    return out;
}

SafeTensor int64_tensor(const std::vector<int64_t>& values) {
    SafeTensor t;
    t.dtype = "I64";
    t.shape = {static_cast<int64_t>(values.size())};
    t.data.assign(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(int64_t));
    return t;
}

std::vector<double> tensor_values(const SafeTensor& t, const std::string& source, const std::string& key) {
    const size_t item = dtype_size(t.dtype);
    EPLB_CHECK(item != 0,
               source << ": tensor \"" << printable(key) << "\" has dtype " << printable(t.dtype)
                      << "; counts must be an integer dtype (I64, as TensorRT-LLM writes) or F32/F64");
    const size_t n = t.data.size() / item;
    std::vector<double> out(n);
    const char* p = t.data.data();
    auto read = [&](auto tag, size_t i) {
        decltype(tag) v;
        std::memcpy(&v, p + i * sizeof v, sizeof v);
        return static_cast<double>(v);
    };
    for (size_t i = 0; i < n; ++i) {
        const std::string& d = t.dtype;
        if (d == "I8")
            out[i] = read(int8_t{}, i);
        else if (d == "U8")
            out[i] = read(uint8_t{}, i);
        else if (d == "I16")
            out[i] = read(int16_t{}, i);
        else if (d == "U16")
            out[i] = read(uint16_t{}, i);
        else if (d == "I32")
            out[i] = read(int32_t{}, i);
        else if (d == "U32")
            out[i] = read(uint32_t{}, i);
        else if (d == "F32")
            out[i] = read(float{}, i);
        else if (d == "I64")
            out[i] = read(int64_t{}, i);
        else if (d == "U64")
            out[i] = read(uint64_t{}, i);
        else
            out[i] = read(double{}, i);
    }
    return out;
}

LoadTrace read_trtllm_stats(const std::string& dir) {
    const fs::path root(dir);
    const fs::path meta_path = root / "meta_info.json";
    std::error_code ec;
    EPLB_CHECK(fs::exists(meta_path, ec),
               dir << ": a directory trace must be a TensorRT-LLM expert-statistics dump (meta_info.json + "
                      "rank*.safetensors), but it has no meta_info.json");
    const json meta = parse_json(read_text_file(meta_path.string()), meta_path.string());
    EPLB_CHECK(meta.is_object(), meta_path.string() << ": expected a JSON object");
    auto meta_int = [&](const char* key) -> int64_t {
        if (!meta.contains(key)) return -1;
        EPLB_CHECK(meta[key].is_number_integer() && meta[key].get<int64_t>() >= 1,
                   meta_path.string()
                       << ": " << key << " is " << describe_value(meta[key]) << ", expected an integer >= 1");
        return meta[key].get<int64_t>();
    };
    const int64_t meta_experts = meta_int("num_experts");
    const int64_t meta_ep_size = meta_int("ep_size");

    // rank{r}.safetensors only: cooccurrence_rank*.safetensors and rank*_numtokens.json are other data.
    std::vector<std::pair<int, fs::path>> rank_files;
    for (const auto& entry : fs::directory_iterator(root, ec)) {
        const std::string name = entry.path().filename().string();
        const std::string prefix = "rank", suffix = ".safetensors";
        if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
            continue;
        int rank = 0;
        if (!parse_index(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()), rank))
            continue;
        rank_files.emplace_back(rank, entry.path());
    }
    EPLB_CHECK(!ec, dir << ": cannot list the directory: " << ec.message());
    EPLB_CHECK(!rank_files.empty(), dir << ": no rank*.safetensors files next to meta_info.json");
    std::sort(rank_files.begin(), rank_files.end());
    EPLB_CHECK(meta_ep_size < 0 || meta_ep_size == static_cast<int64_t>(rank_files.size()),
               meta_path.string() << ": ep_size is " << meta_ep_size << " but the directory holds "
                                  << rank_files.size() << " rank*.safetensors files");

    // (iteration, layer) -> counts summed over ranks.
    std::map<std::pair<int, int>, std::vector<double>> sums;
    int num_experts = meta_experts > 0 ? static_cast<int>(meta_experts) : -1;
    for (const auto& [rank, path] : rank_files) {
        const std::string source = path.string();
        const SafeTensors tensors = parse_safetensors(read_text_file(source), source);
        for (const auto& [key, t] : tensors) {
            const size_t us = key.find('_');
            int iter = 0, layer = 0;
            EPLB_CHECK(us != std::string::npos && parse_index(key.substr(0, us), iter) &&
                           parse_index(key.substr(us + 1), layer),
                       source << ": key \"" << printable(key) << "\" is not {iteration}_{layer}");
            EPLB_CHECK(t.shape.size() == 1, source << ": tensor \"" << printable(key) << "\" has "
                                                   << t.shape.size()
                                                   << " dimensions, expected the counts [num_experts]");
            if (num_experts < 0) num_experts = static_cast<int>(t.shape[0]);
            EPLB_CHECK(t.shape[0] == num_experts,
                       source << ": tensor \"" << printable(key) << "\" has " << t.shape[0]
                              << " counts, expected " << num_experts
                              << (meta_experts > 0 ? " (num_experts of meta_info.json)" : ""));
            const std::vector<double> values = tensor_values(t, source, key);
            std::vector<double>& sum = sums[{iter, layer}];
            if (sum.empty()) sum.assign(static_cast<size_t>(num_experts), 0.0);
            for (int e = 0; e < num_experts; ++e) {
                EPLB_CHECK(std::isfinite(values[e]) && values[e] >= 0,
                           source << ": tensor \"" << printable(key) << "\"[" << e << "] is " << values[e]
                                  << ": counts must be finite and >= 0");
                sum[e] += values[e];
            }
        }
    }
    EPLB_CHECK(!sums.empty(), dir << ": the rank*.safetensors files hold no counts");
    std::set<int> iters, layers;
    for (const auto& entry : sums) {
        iters.insert(entry.first.first);
        layers.insert(entry.first.second);
    }
    for (int it : iters) {
        for (int l : layers) {
            EPLB_CHECK(sums.count({it, l}), dir << ": no counts for iteration " << it << ", layer " << l
                                                << " (key \"" << it << "_" << l << "\"), which the other "
                                                << "iterations and layers imply");
        }
    }
    LoadTrace t;
    t.num_steps = static_cast<int>(iters.size());
    t.num_layers = static_cast<int>(layers.size());
    t.num_experts = num_experts;
    t.layer_ids.assign(layers.begin(), layers.end());
    t.values.reserve(static_cast<size_t>(t.num_steps) * t.num_layers * t.num_experts);
    for (int it : iters) {
        for (int l : layers) {
            for (double v : sums[{it, l}]) t.values.push_back(static_cast<float>(v));
        }
    }
    validate_trace(t, dir);
    return t;
}

namespace {

// Indices 0..n-1 of `numbers` ordered as their decimal strings followed by `suffix` sort: keys
// "{iter}_{layer}" sort by iter + "_" ("10_3" before "1_3") then by layer ("1_10" before "1_3"),
// the order of the tensors in a safetensors file, which sorts its keys.
std::vector<int> in_key_order(const std::vector<int>& numbers, const char* suffix) {
    std::vector<std::pair<std::string, int>> named;
    for (int i = 0; i < static_cast<int>(numbers.size()); ++i) {
        named.emplace_back(std::to_string(numbers[i]) + suffix, i);
    }
    std::sort(named.begin(), named.end());
    std::vector<int> order;
    for (const auto& entry : named) order.push_back(entry.second);
    return order;
}

}  // namespace

void write_trtllm_stats(StepSource& source, const std::vector<int>& layer_ids, const std::string& dir,
                        int top_k, const std::function<void(int, int)>& progress) {
    const int steps = source.num_steps(), layers = source.num_layers(), experts = source.num_experts();
    EPLB_CHECK(top_k >= 1 && top_k <= experts, "top_k ("
                                                   << top_k << ") must be in [1, " << experts
                                                   << "]: TensorRT-LLM records it as num_experts_per_token");
    std::vector<int> step_numbers(static_cast<size_t>(steps));
    for (int s = 0; s < steps; ++s) step_numbers[s] = s;
    const std::vector<int> step_order = in_key_order(step_numbers, "_"),
                           layer_order = in_key_order(layer_ids, "");
    // The header, as to_safetensors writes it (nlohmann's compact dump of the same ordered object),
    // then the counts in key order: each step is read once, in the order of its keys.
    const uint64_t tensor_bytes = static_cast<uint64_t>(experts) * sizeof(int64_t);
    std::string header = "{";
    uint64_t offset = 0;
    for (int s : step_order) {
        for (int l : layer_order) {
            if (offset != 0) header += ',';
            header += "\"" + std::to_string(s) + "_" + std::to_string(layer_ids[l]) +
                      "\":{\"dtype\":\"I64\",\"shape\":[" + std::to_string(experts) + "],\"data_offsets\":[" +
                      std::to_string(offset) + "," + std::to_string(offset + tensor_bytes) + "]}";
            offset += tensor_bytes;
        }
    }
    header += '}';
    header.append((8 - header.size() % 8) % 8, ' ');
    const std::string meta = json{{"num_experts", experts}, {"num_experts_per_token", top_k}}.dump() + "\n";

    std::error_code ec;
    const fs::path root(dir);
    bool created = false;
    if (fs::exists(root, ec)) {
        EPLB_CHECK(fs::is_directory(root, ec), dir << ": exists and is not a directory");
        for (const auto& entry : fs::directory_iterator(root, ec)) {
            const std::string name = entry.path().filename().string();
            EPLB_CHECK(name == "meta_info.json" || name == "rank0.safetensors" || name[0] == '.',
                       dir << ": already holds " << name
                           << "; write the statistics to a new directory (readers sum every rank file)");
        }
    } else {
        fs::create_directories(root, ec);
        EPLB_CHECK(!ec, dir << ": cannot create the directory: " << ec.message());
        created = true;
    }
    try {
        // Counts first, then meta_info.json: a reader needs both, and each appears whole.
        write_file_atomic((root / "rank0.safetensors").string(), [&](std::ostream& out) {
            const uint64_t len = header.size();
            char len_bytes[8];
            std::memcpy(len_bytes, &len, 8);
            out.write(len_bytes, 8);
            out.write(header.data(), static_cast<std::streamsize>(header.size()));
            std::vector<float> step(static_cast<size_t>(layers) * experts);
            std::vector<int64_t> counts(static_cast<size_t>(experts));
            int done = 0;
            for (int s : step_order) {
                source.load_step(s, step.data());
                for (int l : layer_order) {
                    for (int e = 0; e < experts; ++e) {
                        const float v = step[static_cast<size_t>(l) * experts + e];
                        EPLB_CHECK(v == std::floor(v) && v >= 0 && v < 9.2e18f,
                                   "step " << s << ", layer " << layer_ids[l] << ", expert " << e
                                           << " has load " << v
                                           << ": TensorRT-LLM statistics hold integer token counts");
                        counts[e] = static_cast<int64_t>(v);
                    }
                    out.write(reinterpret_cast<const char*>(counts.data()),
                              static_cast<std::streamsize>(tensor_bytes));
                }
                if (progress) progress(++done, steps);
            }
        });
        write_file_atomic((root / "meta_info.json").string(), meta);
    } catch (...) {
        if (created) fs::remove(root, ec);  // empty again: the writer removed its temp file
        throw;
    }
}

void write_trtllm_stats(const LoadTrace& trace, const std::string& dir, int top_k) {
    TraceStepSource source(trace);
    write_trtllm_stats(source, trace.layer_ids, dir, top_k);
}

}  // namespace eplb::io
