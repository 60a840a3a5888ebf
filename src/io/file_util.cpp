// File helpers (see file_util.h).
#include "io/file_util.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <streambuf>

#include <fcntl.h>
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

void check_output_path(const std::string& path) {
    if (path == "-") return;
    const fs::path target(path);
    std::error_code ec;
    EPLB_CHECK(!fs::is_directory(target, ec), path << ": is a directory, cannot write the output there");
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    EPLB_CHECK(fs::is_directory(dir, ec), path << ": directory " << dir.string() << " does not exist");
}

void write_file_atomic(const std::string& path, const std::string& content) {
    write_file_atomic(path, [&](std::ostream& out) { out.write(content.data(), content.size()); });
}

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
    if (path == "-") {
        write(std::cout);
        std::cout.flush();
        if (!std::cout) EPLB_FAIL_KIND(ErrorKind::kDevice, "cannot write to stdout");
        return;
    }
    check_output_path(path);
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::string temp_name = ".";
    temp_name += target.filename().string();
    temp_name += ".tmp.XXXXXX";
    std::string tmpl = (dir / temp_name).string();
    const int fd = mkstemp(tmpl.data());
    EPLB_CHECK(fd >= 0, path << ": cannot create a temporary file in " << dir.string() << ": "
                             << std::strerror(errno));
    int err = 0;
    try {
        FdBuf buf(fd);
        std::ostream out(&buf);
        write(out);
        out.flush();
        err = buf.error() ? buf.error() : (out ? 0 : EIO);
    } catch (...) {
        ::close(fd);
        std::remove(tmpl.c_str());
        throw;
    }
    if (err == 0 && ::fsync(fd) != 0) err = errno;
    if (::close(fd) != 0 && err == 0) err = errno;
    // mkstemp creates 0600; give the output the usual permissions.
    if (err == 0 && ::chmod(tmpl.c_str(), 0644) != 0) err = errno;
    if (err == 0 && std::rename(tmpl.c_str(), path.c_str()) != 0) err = errno;
    if (err != 0) {
        std::remove(tmpl.c_str());
        EPLB_FAIL(path << ": cannot write: " << std::strerror(err));
    }
}

std::string extension_of(const std::string& path) {
    std::string ext = fs::path(path).extension().string();
    if (!ext.empty() && ext[0] == '.') ext.erase(0, 1);
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    return ext;
}

}  // namespace eplb::io
