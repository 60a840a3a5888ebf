// File access at the edge: reading whole files with messages that name the path, and atomic
// writes (temp file + rename) so that no reader ever sees a half-written output.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace eplb::io {

// Contents of `path`; invalid input when it is missing, a directory, a device or unreadable, or
// when a read fails part way. A FIFO (or `<(...)` process substitution) is read to its end; one
// with no writer reads as empty instead of blocking.
std::string read_text_file(const std::string& path);

// Checks that write_file_atomic(path, ...) can create its file (the directory exists, the path is
// not a directory) without writing anything: a command with several outputs checks them all
// first, so that a bad second path does not leave the first file behind.
void check_output_path(const std::string& path);

// Writes `content` to `path` via a temp file in the same directory and rename(2); on any failure
// the temp file is removed and the error names the path. "-" writes to stdout.
void write_file_atomic(const std::string& path, const std::string& content);

// The same, streaming: `write` fills the stream (a large document need not exist as one string).
// When `write` throws, the temp file is removed and the exception propagates.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

// Lower-case extension without the dot ("json", "csv", "npy"), "" when none.
std::string extension_of(const std::string& path);

}  // namespace eplb::io
