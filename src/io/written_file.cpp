// The description of a written file (see written_file.h).
#include "io/written_file.h"

#include <filesystem>
#include <sstream>

#include "io/json_writer.h"

namespace eplb::io {

namespace fs = std::filesystem;

std::optional<uint64_t> bytes_on_disk(const std::string& path) {
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (ec) return std::nullopt;
    if (fs::is_regular_file(st)) return fs::file_size(path, ec);
    if (!fs::is_directory(st)) return std::nullopt;
    uint64_t total = 0;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
        if (entry.is_regular_file(ec)) total += entry.file_size(ec);
    }
    return total;
}

std::string written_file_json(const WrittenFile& f) {
    std::ostringstream out;
    JsonWriter w(out);
    w.begin_object();
    w.key("schema");
    w.value(f.schema);
    w.key("path");
    w.value(f.path);
    w.key("kind");
    w.value(f.kind);
    w.key("format");
    w.value(f.format);
    if (!f.from.empty()) {
        w.key("from");
        w.value(f.from);
    }
    if (!f.from_format.empty()) {
        w.key("from_format");
        w.value(f.from_format);
    }
    w.key("shape");
    w.array(f.shape);
    w.key("layers");
    w.array(f.layer_ids);
    if (f.first_step >= 0) {
        w.key("steps");
        w.begin_object();
        w.key("first");
        w.value(f.first_step);
        w.key("end");
        w.value(f.end_step);
        w.end_object();
    }
    w.key("bytes");
    if (f.bytes) {
        w.value(*f.bytes);
    } else {
        w.value(nullptr);
    }
    w.end_object();
    w.finish();
    return out.str();
}

}  // namespace eplb::io
