// SGLang expert-distribution dumps (see sglang_pt.h).
#include "io/sglang_pt.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "eplb/error.h"
#include "io/torch_pt.h"

namespace eplb::io {

namespace {

using Kind = PickleValue::Kind;

// How SGLang names its dump files: expert_distribution_recorder_{time}[_{rank}].pt.
constexpr const char* kDumpPrefix = "expert_distribution_recorder_";

// The keys of dict `dict`, for messages: {"a", "b"}.
std::string keys_of(const Pickle& p, int dict) {
    std::ostringstream keys;
    const PickleValue& d = p.at(dict);
    keys << "{";
    for (size_t i = 0; i + 1 < d.items.size() && i < 40; i += 2) {
        const PickleValue& k = p.at(d.items[i]);
        if (i > 0) keys << ", ";
        if (k.kind == Kind::kString) {
            keys << "\"" << printable(k.text) << "\"";
        } else {
            keys << describe_pickle_value(p, d.items[i]);
        }
    }
    keys << "}";
    return keys.str();
}

// The tensor under `key` of dict `dict` with `dims` dimensions, each at least 1; its index into
// Pickle::tensors.
int tensor_at(const TorchArchive& a, int dict, const std::string& key, const std::string& where,
              size_t min_dims, size_t max_dims) {
    const Pickle& p = a.pickle();
    const int id = p.find(dict, key);
    EPLB_CHECK(id >= 0, a.source() << ": " << where << " has no key \"" << key << "\" (keys "
                                   << keys_of(p, dict) << ")");
    EPLB_CHECK(p.at(id).kind == Kind::kTensor, a.source()
                                                   << ": " << where << "[\"" << key << "\"] is "
                                                   << describe_pickle_value(p, id) << ", expected a tensor");
    const int tensor = static_cast<int>(p.at(id).number);
    const auto& sizes = p.tensors[static_cast<size_t>(tensor)].sizes;
    EPLB_CHECK(sizes.size() >= min_dims && sizes.size() <= max_dims,
               a.source() << ": " << key << " is " << describe_pickle_value(p, id) << ", expected "
                          << (min_dims == 2 && max_dims == 3 ? "[layers][experts] or [steps][layers][experts]"
                                                             : "[layers][physical experts]"));
    for (int64_t s : sizes)
        EPLB_CHECK(s >= 1, a.source() << ": " << key << " is " << describe_pickle_value(p, id)
                                      << ": a dimension is empty");
    return tensor;
}

int64_t int_at(const TorchArchive& a, int dict, const std::string& key, const std::string& where) {
    const Pickle& p = a.pickle();
    const int id = p.find(dict, key);
    EPLB_CHECK(id >= 0, a.source() << ": " << where << " has no key \"" << key << "\" (keys "
                                   << keys_of(p, dict) << ")");
    EPLB_CHECK(p.at(id).kind == Kind::kInt, a.source()
                                                << ": " << where << "[\"" << key << "\"] is "
                                                << describe_pickle_value(p, id) << ", expected an integer");
    return p.at(id).number;
}

// The root dict, and which mode wrote it.
enum class DumpMode { kStat, kPerPass };

DumpMode mode_of(const TorchArchive& a) {
    const Pickle& p = a.pickle();
    EPLB_CHECK(p.at(p.root).kind == Kind::kDict,
               a.source() << ": holds " << describe_pickle_value(p, p.root)
                          << ", expected SGLang's expert-distribution dump (a dict)");
    if (p.find(p.root, "logical_count") >= 0) return DumpMode::kStat;
    EPLB_CHECK(
        p.find(p.root, "records") >= 0,
        a.source() << ": no SGLang expert-distribution dump found: expected key \"logical_count\" (stat "
                      "mode) or \"records\" (per_pass mode), found "
                   << keys_of(p, p.root));
    return DumpMode::kPerPass;
}

LoadTrace read_stat(const TorchArchive& a) {
    const Pickle& p = a.pickle();
    const int tensor = tensor_at(a, p.root, "logical_count", "the dump", 2, 3);
    const int64_t count = a.numel(tensor, "logical_count");
    const auto& sizes = p.tensors[static_cast<size_t>(tensor)].sizes;
    EPLB_CHECK(count <= 4'000'000'000ll, a.source()
                                             << ": logical_count has " << count << " elements, too many");
    LoadTrace t;
    t.num_steps = sizes.size() == 3 ? static_cast<int>(sizes[0]) : 1;
    t.num_layers = static_cast<int>(sizes[sizes.size() - 2]);
    t.num_experts = static_cast<int>(sizes.back());
    t.values.resize(static_cast<size_t>(count));
    a.read_floats(tensor, "logical_count", t.values.data());
    for (int l = 0; l < t.num_layers; ++l) t.layer_ids.push_back(l);
    return t;
}

// Per-pass records of all files summed per forward pass, folded to logical experts.
class PassFolder {
  public:
    // Checks a file's map and the shapes it shares with the others.
    void add_map(const TorchArchive& a) {
        const Pickle& p = a.pickle();
        const int tensor = tensor_at(a, p.root, "last_physical_to_logical_map", "the dump", 2, 2);
        const auto& sizes = p.tensors[static_cast<size_t>(tensor)].sizes;
        if (num_layers_ < 0) {
            num_layers_ = static_cast<int>(sizes[0]);
            num_physical_ = static_cast<int>(sizes[1]);
        }
        EPLB_CHECK(sizes[0] == num_layers_ && sizes[1] == num_physical_,
                   a.source() << ": last_physical_to_logical_map is [" << sizes[0] << "][" << sizes[1]
                              << "], " << first_source_ << " has [" << num_layers_ << "][" << num_physical_
                              << "]");
        if (first_source_.empty()) first_source_ = a.source();
        a.numel(tensor, "last_physical_to_logical_map");
        std::vector<int64_t> map = a.read_ints(tensor, "last_physical_to_logical_map");
        for (size_t i = 0; i < map.size(); ++i) {
            EPLB_CHECK(map[i] >= 0 && map[i] < num_physical_,
                       a.source() << ": last_physical_to_logical_map[" << i / num_physical_ << "]["
                                  << i % num_physical_ << "] is " << map[i]
                                  << ", expected a logical expert in [0, " << num_physical_ << ")");
            num_experts_ = std::max(num_experts_, static_cast<int>(map[i]) + 1);
        }
        maps_.push_back(std::move(map));
    }

    // Adds the records of the file whose map was the `file`-th added.
    void add_records(const TorchArchive& a, size_t file) {
        const Pickle& p = a.pickle();
        const int records = p.find(p.root, "records");
        EPLB_CHECK(p.at(records).kind == Kind::kList,
                   a.source() << ": records is " << describe_pickle_value(p, records) << ", expected a list");
        const std::vector<int64_t>& map = maps_[file];
        const size_t num_slots = static_cast<size_t>(num_layers_) * num_physical_;
        std::vector<float> counts(num_slots);
        const std::vector<int>& items = p.at(records).items;
        for (size_t r = 0; r < items.size(); ++r) {
            const std::string where = "records[" + std::to_string(r) + "]";
            EPLB_CHECK(p.at(items[r]).kind == Kind::kDict, a.source() << ": " << where << " is "
                                                                      << describe_pickle_value(p, items[r])
                                                                      << ", expected a dict");
            const int64_t pass = int_at(a, items[r], "forward_pass_id", where);
            const int64_t rank = int_at(a, items[r], "rank", where);
            EPLB_CHECK(seen_.insert({pass, rank}).second, a.source()
                                                              << ": " << where << ": forward pass " << pass
                                                              << " of rank " << rank << " is recorded twice");
            const std::string what = where + ".global_physical_count";
            const int tensor = tensor_at(a, items[r], "global_physical_count", where, 2, 2);
            const auto& sizes = p.tensors[static_cast<size_t>(tensor)].sizes;
            EPLB_CHECK(sizes[0] == num_layers_ && sizes[1] == num_physical_,
                       a.source() << ": " << what << " is [" << sizes[0] << "][" << sizes[1]
                                  << "], last_physical_to_logical_map is [" << num_layers_ << "]["
                                  << num_physical_ << "]");
            // Each record holds a tensor of its own (SGLang clones them); one storage named by many
            // records would let a small file make us allocate a step per record.
            const int storage = p.tensors[static_cast<size_t>(tensor)].storage;
            EPLB_CHECK(storages_used_.insert({file, storage}).second,
                       a.source() << ": " << what << " shares its storage with an earlier record");
            a.numel(tensor, what);
            a.read_floats(tensor, what, counts.data());
            std::vector<double>& step = steps_[pass];
            if (step.empty()) step.assign(static_cast<size_t>(num_layers_) * num_experts_, 0.0);
            for (size_t i = 0; i < num_slots; ++i) {
                EPLB_CHECK(std::isfinite(counts[i]) && counts[i] >= 0.0f,
                           a.source() << ": " << what << "[" << i / num_physical_ << "][" << i % num_physical_
                                      << "] is " << counts[i] << ": loads must be finite and >= 0");
                step[(i / num_physical_) * num_experts_ + map[i]] += counts[i];
            }
        }
    }

    LoadTrace trace(const std::string& source) const {
        EPLB_CHECK(!steps_.empty(),
                   source << ": no per-pass records (the recorder dumped before any forward pass)");
        EPLB_CHECK(steps_.size() < (size_t{1} << 31), source << ": too many forward passes");
        LoadTrace t;
        t.num_steps = static_cast<int>(steps_.size());
        t.num_layers = num_layers_;
        t.num_experts = num_experts_;
        t.values.reserve(static_cast<size_t>(t.num_steps) * num_layers_ * num_experts_);
        for (const auto& [pass, step] : steps_) {
            for (size_t i = 0; i < step.size(); ++i) {
                EPLB_CHECK(is_float32_load(step[i]), source << ": forward pass " << pass << ", layer "
                                                            << i / num_experts_ << ", expert "
                                                            << i % num_experts_ << ": load " << step[i]
                                                            << " is too large for float32");
                t.values.push_back(static_cast<float>(step[i]));
            }
        }
        for (int l = 0; l < t.num_layers; ++l) t.layer_ids.push_back(l);
        return t;
    }

  private:
    int num_layers_ = -1, num_physical_ = -1, num_experts_ = 0;
    std::string first_source_;
    std::vector<std::vector<int64_t>> maps_;
    std::map<int64_t, std::vector<double>> steps_;    // forward pass id -> [L][E]
    std::set<std::pair<int64_t, int64_t>> seen_;      // (forward pass, rank)
    std::set<std::pair<size_t, int>> storages_used_;  // (file, storage) of the records read
};

LoadTrace read_archive(const TorchArchive& a) {
    LoadTrace t;
    if (mode_of(a) == DumpMode::kStat) {
        t = read_stat(a);
    } else {
        PassFolder folder;
        folder.add_map(a);
        folder.add_records(a, 0);
        t = folder.trace(a.source());
    }
    validate_trace(t, a.source());
    return t;
}

std::vector<std::string> dump_files(const std::string& dir) {
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.path().extension() == ".pt") files.push_back(entry.path().string());
    }
    EPLB_CHECK(!ec, dir << ": cannot list the directory: " << ec.message());
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

bool is_sglang_dump_dir(const std::string& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec) ||
        std::filesystem::exists(std::filesystem::path(dir) / "meta_info.json", ec))
        return false;
    for (const std::string& file : dump_files(dir)) {
        if (std::filesystem::path(file).filename().string().rfind(kDumpPrefix, 0) == 0) return true;
    }
    return false;
}

LoadTrace read_sglang_pt(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) return read_archive(TorchArchive::open_file(path));
    const std::vector<std::string> files = dump_files(path);
    EPLB_CHECK(!files.empty(), path << ": no .pt files in the directory");
    std::vector<TorchArchive> archives;
    PassFolder folder;
    for (const std::string& file : files) {
        archives.push_back(TorchArchive::open_file(file));
        EPLB_CHECK(
            mode_of(archives.back()) == DumpMode::kPerPass,
            file << ": a stat-mode dump (\"logical_count\") in a directory of per-pass rank files: pass a "
                    "stat dump as a file of its own");
        folder.add_map(archives.back());
    }
    for (size_t i = 0; i < archives.size(); ++i) folder.add_records(archives[i], i);
    LoadTrace t = folder.trace(path);
    validate_trace(t, path);
    return t;
}

LoadTrace parse_sglang_pt(std::string bytes, const std::string& source) {
    return read_archive(TorchArchive::open_bytes(std::move(bytes), source));
}

std::unique_ptr<SglangStepReader> SglangStepReader::open(const std::string& path, Range layers, Range steps) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return nullptr;  // per-pass rank files
    auto archive = std::make_unique<TorchArchive>(TorchArchive::open_file(path));
    if (mode_of(*archive) != DumpMode::kStat) return nullptr;
    const int tensor = tensor_at(*archive, archive->pickle().root, "logical_count", "the dump", 2, 3);
    archive->numel(tensor, "logical_count");
    if (!archive->is_contiguous(tensor)) return nullptr;
    return std::unique_ptr<SglangStepReader>(new SglangStepReader(std::move(archive), tensor, layers, steps));
}

SglangStepReader::SglangStepReader(std::unique_ptr<TorchArchive> archive, int tensor, Range layers,
                                   Range steps)
    : archive_(std::move(archive)), tensor_(tensor) {
    const std::string& path = archive_->source();
    const auto& sizes = archive_->pickle().tensors[static_cast<size_t>(tensor)].sizes;
    file_steps_ = sizes.size() == 3 ? static_cast<int>(sizes[0]) : 1;
    file_layers_ = static_cast<int>(sizes[sizes.size() - 2]);
    file_experts_ = static_cast<int>(sizes.back());
    const int end_layer = layers.end == -1 ? file_layers_ : layers.end;
    EPLB_CHECK(layers.first < file_layers_ && end_layer <= file_layers_ && layers.first < end_layer,
               path << ": --layers " << layers.first << ":"
                    << (layers.end == -1 ? std::string() : std::to_string(layers.end))
                    << " is outside the trace's layers 0:" << file_layers_);
    first_row_ = layers.first;
    num_rows_ = end_layer - layers.first;
    first_step_ = steps.first;
    end_step_ = steps.end == -1 ? file_steps_ : steps.end;
    EPLB_CHECK(first_step_ >= 0 && first_step_ < end_step_ && end_step_ <= file_steps_,
               path << ": --steps " << steps.first << ":" << end_step_ << " is outside the trace's "
                    << file_steps_ << " steps [0, " << file_steps_ << ")");
}

SglangStepReader::~SglangStepReader() = default;

std::vector<int> SglangStepReader::layer_ids() const {
    std::vector<int> ids(num_rows_);
    for (int i = 0; i < num_rows_; ++i) ids[i] = first_row_ + i;
    return ids;
}

void SglangStepReader::load_step(int t, float* out) {
    EPLB_CHECK(t >= 0 && t < num_steps(), archive_->source()
                                              << ": step " << t << " is outside [0, " << num_steps() << ")");
    const int step = first_step_ + t;
    const int64_t count = static_cast<int64_t>(num_rows_) * file_experts_;
    archive_->read_floats_range(tensor_, "logical_count",
                                (static_cast<int64_t>(step) * file_layers_ + first_row_) * file_experts_,
                                count, out);
    for (int64_t i = 0; i < count; ++i) {
        EPLB_CHECK(std::isfinite(out[i]) && out[i] >= 0.0f,
                   archive_->source() << ": load at step " << step << ", layer "
                                      << first_row_ + i / file_experts_ << ", expert " << i % file_experts_
                                      << " is " << out[i] << ": loads must be finite and >= 0");
    }
}

}  // namespace eplb::io
