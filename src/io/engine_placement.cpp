// The rows and the placement the engine formats share (see engine_placement.h).
#include "io/engine_placement.h"

#include "eplb/error.h"
#include "io/json_util.h"

namespace eplb::io {

using nlohmann::json;

void append_row(std::string& out, const int32_t* values, int n) {
    out += '[';
    for (int i = 0; i < n; ++i) {
        if (i) out += ',';
        out += std::to_string(values[i]);
    }
    out += ']';
}

std::string matrix_lines(const IndexMatrix& m) {
    std::string out = "[\n";
    for (Eigen::Index r = 0; r < m.rows(); ++r) {
        append_row(out, m.row(r).data(), static_cast<int>(m.cols()));
        out += r + 1 < m.rows() ? ",\n" : "\n";
    }
    return out + "]";
}

IndexMatrix read_rows(const json& j, const std::string& key, const std::string& source, int cols) {
    EPLB_CHECK(j.contains(key), source << ": missing key \"" << key << "\"");
    const json& rows = j[key];
    EPLB_CHECK(rows.is_array() && !rows.empty() && rows[0].is_array() && !rows[0].empty(),
               source << ": " << key << " must be a non-empty array of rows");
    if (cols == 0) cols = static_cast<int>(rows[0].size());
    IndexMatrix m(static_cast<Eigen::Index>(rows.size()), cols);
    for (size_t r = 0; r < rows.size(); ++r) {
        EPLB_CHECK(rows[r].is_array() && rows[r].size() == static_cast<size_t>(cols),
                   source << ": " << key << "[" << r << "] has "
                          << (rows[r].is_array() ? rows[r].size() : size_t{0}) << " entries, expected "
                          << cols);
        for (int c = 0; c < cols; ++c) {
            const json& v = rows[r][c];
            EPLB_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < (1 << 24),
                       source << ": " << key << "[" << r << "][" << c << "] is " << describe_value(v)
                              << ", expected an expert id >= 0");
            m(static_cast<Eigen::Index>(r), c) = v.get<int32_t>();
        }
    }
    return m;
}

PlacementDoc doc_from_phy2log(const IndexMatrix& phy2log, std::vector<int> layer_ids,
                              const PlacementImportOptions& o, const std::string& source,
                              const char* format) {
    PlacementDoc d;
    const int max_id = phy2log.size() ? phy2log.maxCoeff() : 0;
    ParallelConfig& c = d.config;
    c.num_logical_experts = o.num_logical_experts > 0 ? o.num_logical_experts : max_id + 1;
    EPLB_CHECK(max_id < c.num_logical_experts, source << ": names expert " << max_id
                                                      << " but num_logical_experts is "
                                                      << c.num_logical_experts);
    c.num_physical_experts = static_cast<int>(phy2log.cols());
    c.num_groups = o.num_groups > 0 ? o.num_groups : 1;
    c.num_nodes = o.num_nodes > 0 ? o.num_nodes : 1;
    c.num_gpus = o.num_gpus > 0 ? o.num_gpus : 1;
    try {
        c.validate();
        d.placement = placement_from_phy2log(phy2log, c.num_logical_experts);
        validate_placement(d.placement, c);
    } catch (const Error& e) {
        EPLB_FAIL(source << ": " << e.what());
    }
    d.layer_ids = std::move(layer_ids);
    d.policy = std::string("read from ") + format;
    return d;
}

}  // namespace eplb::io
