// File access at the edge: reading whole files with messages that name the path, and atomic
// writes (temp file + rename) so that no reader ever sees a half-written output.
#pragma once

#include <string>

namespace eplb::io {

// Contents of `path`; invalid input when it is missing, a directory or unreadable.
std::string read_text_file(const std::string& path);

// Writes `content` to `path` via a temp file in the same directory and rename(2); on any failure
// the temp file is removed and the error names the path. "-" writes to stdout.
void write_file_atomic(const std::string& path, const std::string& content);

// Lower-case extension without the dot ("json", "csv", "npy"), "" when none.
std::string extension_of(const std::string& path);

}  // namespace eplb::io
