// File helpers (see file_util.h).
#include "io/file_util.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <streambuf>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eplb/error.h"

namespace eplb::io {

namespace fs = std::filesystem;

namespace {

// A streambuf over a file descriptor that remembers the first write error (errno), so that a full
// disk is reported with its reason instead of a bare stream failure.
class FdBuf : public std::streambuf {
  public:
    explicit FdBuf(int fd) : fd_(fd) { setp(buf_, buf_ + sizeof buf_); }
    int error() const { return error_; }

  protected:
    int_type overflow(int_type c) override {
        if (!drain()) return traits_type::eof();
        if (!traits_type::eq_int_type(c, traits_type::eof())) {
            *pptr() = traits_type::to_char_type(c);
            pbump(1);
        }
        return traits_type::not_eof(c);
    }
    int sync() override { return drain() ? 0 : -1; }

  private:
    bool drain() {
        const char* p = pbase();
        while (p < pptr() && error_ == 0) {
            const ssize_t n = ::write(fd_, p, static_cast<size_t>(pptr() - p));
            if (n < 0) {
                if (errno != EINTR) error_ = errno;
                continue;
            }
            p += n;
        }
        setp(buf_, buf_ + sizeof buf_);
        return error_ == 0;
    }

    int fd_;
    int error_ = 0;
    char buf_[1 << 16];
};

}  // namespace

std::string read_text_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        EPLB_CHECK(errno != ENOENT && errno != ENOTDIR, path << ": no such file");
        EPLB_FAIL(path << ": cannot access: " << std::strerror(errno));
    }
    EPLB_CHECK(!S_ISDIR(st.st_mode), path << ": is a directory, expected a file");
    const bool fifo = S_ISFIFO(st.st_mode);
    // Devices (/dev/zero, a terminal) could block or never end.
    EPLB_CHECK(S_ISREG(st.st_mode) || fifo, path << ": is not a regular file");
    // O_NONBLOCK only for the open: a FIFO nobody writes to opens at once and then reads as empty.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (fifo ? O_NONBLOCK : 0));
    EPLB_CHECK(fd >= 0, path << ": cannot open: " << std::strerror(errno));
    if (fifo) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    std::string content;
    if (S_ISREG(st.st_mode) && st.st_size > 0) content.reserve(static_cast<size_t>(st.st_size));
    char buf[1 << 16];
    while (true) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            ::close(fd);
            EPLB_FAIL(path << ": cannot read: " << std::strerror(err));
        }
        content.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return content;
}

namespace {

// The temp files being written, for the signal handler: fixed storage (a handler may not allocate),
// a slot is live while its file exists under that name.
constexpr int kMaxTempFiles = 8;
struct TempSlot {
    volatile sig_atomic_t live = 0;
    char path[4096] = {};
};
TempSlot g_temp_files[kMaxTempFiles];
constexpr int kCleanupSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

extern "C" void remove_temp_files_and_reraise(int sig) {
    for (TempSlot& slot : g_temp_files) {
        if (slot.live) ::unlink(slot.path);
    }
    // Die of the same signal (the shell sees 128 + sig): it is blocked until the handler returns.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
}

// Blocks the cleanup signals while a slot and the file system disagree (between mkstemp and the
// slot going live, between rename and the slot going dead).
class BlockCleanupSignals {
  public:
    BlockCleanupSignals() {
        sigset_t set;
        sigemptyset(&set);
        for (int sig : kCleanupSignals) sigaddset(&set, sig);
        ::sigprocmask(SIG_BLOCK, &set, &old_);
    }
    ~BlockCleanupSignals() { ::sigprocmask(SIG_SETMASK, &old_, nullptr); }
    BlockCleanupSignals(const BlockCleanupSignals&) = delete;
    BlockCleanupSignals& operator=(const BlockCleanupSignals&) = delete;

  private:
    sigset_t old_;
};

// The fd that a path names without going through the file system: "-", /dev/stdout, /dev/fd/N.
// Opening /dev/stdout anew would truncate a `>>` file or, renamed onto, lose the shell's file.
int special_fd(const std::string& path) {
    if (path == "-" || path == "/dev/stdout") return 1;
    if (path == "/dev/stderr") return 2;
    for (const char* prefix : {"/dev/fd/", "/proc/self/fd/"}) {
        const std::string p = prefix;
        if (path.size() > p.size() && path.compare(0, p.size(), p) == 0 &&
            path.find_first_not_of("0123456789", p.size()) == std::string::npos &&
            path.size() - p.size() < 6) {
            return std::stoi(path.substr(p.size()));
        }
    }
    return -1;
}

std::string display_name(const std::string& path) { return path == "-" ? std::string("stdout") : path; }

// Where an output goes: a file descriptor, or a path after following symbolic links (which then
// names a regular file, a file to create, or something else to write to in place).
struct OutputTarget {
    int fd = -1;
    std::string path;  // the link's final target
    bool exists = false;
    struct stat st {};
};

OutputTarget resolve_output(const std::string& path) {
    OutputTarget t;
    std::string p = path;
    for (int hop = 0; hop < 40; ++hop) {
        t.fd = special_fd(p);
        if (t.fd >= 0) {
            t.exists = ::fstat(t.fd, &t.st) == 0;
            return t;
        }
        struct stat lst {};
        if (::lstat(p.c_str(), &lst) != 0) break;  // a file to create (or a dangling link's target)
        if (!S_ISLNK(lst.st_mode)) break;
        std::error_code ec;
        const fs::path next = fs::read_symlink(p, ec);
        EPLB_CHECK(!ec, path << ": cannot read the symbolic link " << p << ": " << ec.message());
        const fs::path from(p);
        p = (next.is_absolute() ? next : (from.has_parent_path() ? from.parent_path() : fs::path(".")) / next)
                .lexically_normal()
                .string();
    }
    t.path = p;
    t.exists = ::stat(p.c_str(), &t.st) == 0;
    return t;
}

fs::path directory_of(const std::string& path) {
    const fs::path target(path);
    return target.has_parent_path() ? target.parent_path() : fs::path(".");
}

void check_target(const std::string& path, const OutputTarget& t) {
    if (t.fd >= 0) return;
    EPLB_CHECK(!(t.exists && S_ISDIR(t.st.st_mode)),
               path << ": is a directory, cannot write the output there");
    if (t.exists) return;
    const fs::path dir = directory_of(t.path);
    std::error_code ec;
    EPLB_CHECK(fs::is_directory(dir, ec), path << ": directory " << dir.string() << " does not exist");
}

// Streams `write` into fd; 0 or the first errno.
int write_to_fd(int fd, const std::function<void(std::ostream&)>& write) {
    FdBuf buf(fd);
    std::ostream out(&buf);
    write(out);
    out.flush();
    return buf.error() ? buf.error() : (out ? 0 : EIO);
}

}  // namespace

bool is_stdout_path(const std::string& path) { return special_fd(path) == 1; }

void check_output_path(const std::string& path) { check_target(path, resolve_output(path)); }

void check_outputs(const std::vector<NamedOutput>& outputs) {
    std::vector<std::string> keys;
    for (const auto& [flag, path] : outputs) {
        const OutputTarget t = resolve_output(path);
        check_target(path, t);
        std::string key;
        if (t.exists && S_ISCHR(t.st.st_mode)) {
            key = "";  // /dev/null may take every output
        } else if (t.exists) {
            key = "inode " + std::to_string(t.st.st_dev) + ":" + std::to_string(t.st.st_ino);
        } else if (t.fd >= 0) {
            key = "fd " + std::to_string(t.fd);
        } else {
            key = "path " + fs::absolute(t.path).lexically_normal().string();
        }
        keys.push_back(key);
    }
    for (size_t i = 0; i < outputs.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
            if (keys[i].empty() || keys[i] != keys[j]) continue;
            const std::string& a = outputs[j].second;
            const std::string& b = outputs[i].second;
            EPLB_FAIL_KIND(ErrorKind::kUsage, outputs[j].first << " " << display_name(a) << " and "
                                                               << outputs[i].first << " " << display_name(b)
                                                               << (a == b ? "" : " are the same file")
                                                               << ": every output needs a file of its own");
        }
    }
}

void write_file_atomic(const std::string& path, const std::string& content) {
    write_file_atomic(path, [&](std::ostream& out) { out.write(content.data(), content.size()); });
}

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
    const OutputTarget t = resolve_output(path);
    check_target(path, t);
    if (t.fd >= 0) {
        // Keep what was already printed in front of the document.
        if (t.fd == 1) finish_stdout();
        if (t.fd == 2) std::cerr.flush();
        const int err = write_to_fd(t.fd, write);
        EPLB_CHECK(err == 0, display_name(path) << ": cannot write: " << std::strerror(err));
        return;
    }
    if (t.exists && !S_ISREG(t.st.st_mode)) {
        // A FIFO or a device: written in place, never replaced (renaming onto /dev/null as root would
        // turn it into a regular file). Opening a FIFO waits for its reader.
        const int fd = ::open(t.path.c_str(), O_WRONLY | O_CLOEXEC);
        EPLB_CHECK(fd >= 0, path << ": cannot open: " << std::strerror(errno));
        int err = 0;
        try {
            err = write_to_fd(fd, write);
        } catch (...) {
            ::close(fd);
            throw;
        }
        if (::close(fd) != 0 && err == 0) err = errno;
        EPLB_CHECK(err == 0, path << ": cannot write: " << std::strerror(err));
        return;
    }
    install_temp_file_cleanup();
    const fs::path target(t.path);
    std::string temp_name = ".";
    temp_name += target.filename().string();
    temp_name += ".tmp.XXXXXX";
    std::string tmpl = (directory_of(t.path) / temp_name).string();
    TempSlot* slot = nullptr;
    int fd = -1;
    {
        BlockCleanupSignals blocked;
        for (TempSlot& s : g_temp_files) {
            if (!s.live && tmpl.size() < sizeof s.path) {
                slot = &s;
                break;
            }
        }
        fd = mkstemp(tmpl.data());
        if (fd >= 0 && slot) {
            std::memcpy(slot->path, tmpl.c_str(), tmpl.size() + 1);
            slot->live = 1;
        }
    }
    EPLB_CHECK(fd >= 0, path << ": cannot create a temporary file in " << directory_of(t.path).string()
                             << ": " << std::strerror(errno));
    const auto remove_temp = [&] {
        BlockCleanupSignals blocked;
        std::remove(tmpl.c_str());
        if (slot) slot->live = 0;
    };
    int err = 0;
    try {
        err = write_to_fd(fd, write);
    } catch (...) {
        ::close(fd);
        remove_temp();
        throw;
    }
    if (err == 0 && ::fsync(fd) != 0) err = errno;
    // mkstemp creates 0600: keep the replaced file's permissions, or give a new one the usual ones.
    if (err == 0 && ::fchmod(fd, t.exists ? (t.st.st_mode & 07777) : 0644) != 0) err = errno;
    if (::close(fd) != 0 && err == 0) err = errno;
    if (err == 0) {
        BlockCleanupSignals blocked;
        if (std::rename(tmpl.c_str(), t.path.c_str()) != 0) {
            err = errno;
        } else if (slot) {
            slot->live = 0;
        }
    }
    if (err != 0) {
        remove_temp();
        EPLB_FAIL(path << ": cannot write: " << std::strerror(err));
    }
}

void finish_stdout() {
    errno = 0;
    std::cout.flush();
    const bool failed = !std::cout || std::fflush(stdout) != 0;
    const int err = errno;
    if (!failed) return;
    std::cout.clear();  // report once
    EPLB_FAIL("stdout: cannot write the output: " << (err != 0                  ? std::strerror(err)
                                                      : ::fcntl(1, F_GETFD) < 0 ? "stdout is closed"
                                                                                : "write failed"));
}

void install_temp_file_cleanup() {
    static bool installed = false;
    if (installed) return;
    installed = true;
    for (int sig : kCleanupSignals) {
        struct sigaction old {};
        ::sigaction(sig, nullptr, &old);
        if (old.sa_handler != SIG_DFL) continue;  // ignored (nohup) or handled by someone else: keep it
        struct sigaction sa {};
        sa.sa_handler = remove_temp_files_and_reraise;
        sigemptyset(&sa.sa_mask);
        ::sigaction(sig, &sa, nullptr);
    }
}

std::string extension_of(const std::string& path) {
    std::string ext = fs::path(path).extension().string();
    if (!ext.empty() && ext[0] == '.') ext.erase(0, 1);
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    return ext;
}

}  // namespace eplb::io
