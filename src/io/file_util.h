// File access at the edge: reading whole files with messages that name the path, and writing
// outputs so that nothing is ever destroyed: a regular file (or a link to one) is replaced
// atomically (temp file + rename), anything else (a FIFO, a device, stdout) is written to directly.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace eplb::io {

// Contents of `path`; invalid input when it is missing, a directory, a device or unreadable, or
// when a read fails part way. A FIFO (or `<(...)` process substitution) is read to its end; one
// with no writer reads as empty instead of blocking.
std::string read_text_file(const std::string& path);

// Checks that write_file_atomic(path, ...) can write there (the directory exists, the path is
// not a directory) without writing anything: a command with several outputs checks them all
// first, so that a bad second path does not leave the first file behind.
void check_output_path(const std::string& path);

// One output of a command: the flag that names it ("-o", "--export sglang") and its path.
using NamedOutput = std::pair<std::string, std::string>;

// check_output_path for each, and a usage error (exit 2) when two of them are the same file:
// the same resolved path or inode, or stdout twice ("-", /dev/stdout, --json on stdout). Character
// devices (/dev/null) may repeat. Call before writing anything.
void check_outputs(const std::vector<NamedOutput>& outputs);

// Writes `content` to `path`. A regular file or a new one, also behind symbolic links, is written
// to a temp file beside the link's target and renamed onto it (the link stays a link); on any
// failure the temp file is removed and the error names the path. "-", /dev/stdout, /dev/stderr,
// /dev/fd/N and other non-regular files (FIFO, /dev/null) are written to directly and never
// replaced. A write error (disk full, closed stdout) is invalid input (exit 3) naming the output.
void write_file_atomic(const std::string& path, const std::string& content);

// The same, streaming: `write` fills the stream (a large document need not exist as one string).
// When `write` throws, the temp file is removed and the exception propagates.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

// Whether `path` names the process's stdout ("-", /dev/stdout, /dev/fd/1, /proc/self/fd/1).
bool is_stdout_path(const std::string& path);

// Flushes std::cout; an error (closed stdout, a full disk behind it) is invalid input naming stdout.
// main calls it after every command, so that a `--json` document that was not written fails.
void finish_stdout();

// SIGINT, SIGTERM, SIGHUP and SIGPIPE remove the temp files being written, then kill the process
// with the same signal. write_file_atomic installs the handlers on first use.
void install_temp_file_cleanup();

// Lower-case extension without the dot ("json", "csv", "npy"), "" when none.
std::string extension_of(const std::string& path);

}  // namespace eplb::io
