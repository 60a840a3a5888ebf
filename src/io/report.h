// Text renderings of reports: an aligned table type, and the readable plan/evaluate report.
#pragma once

#include <string>
#include <vector>

#include "eplb/metrics.h"
#include "eplb/migration.h"
#include "io/placement_io.h"

namespace eplb::io {

// Columns right-aligned except the first; rows of cells; rendered with two spaces between columns.
class TextTable {
  public:
    explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
    void add_row(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    std::string render() const;

  private:
    std::vector<std::string> header_;
    std::vector<std::vector<std::string>> rows_;
};

// "a, b, c": a list of names for a message.
std::string join(const std::vector<std::string>& items);

// printf-style formatting into a std::string.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// One character per GPU, its load between the layer's min (▁) and max (█), for a compact strip.
std::string load_strip(const double* loads, int n);

// The readable report of `plan` and `evaluate`: effective config, policy taken, overall metrics,
// a per-layer table, and the load strip of the worst layer. `title` is the first line.
std::string render_placement_report(const std::string& title, const PlacementDoc& doc, const Metrics& metrics,
                                    const MigrationStats* migration);

}  // namespace eplb::io
