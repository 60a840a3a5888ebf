// File helpers (see file_util.h).
#include "io/file_util.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <sys/stat.h>
#include <unistd.h>

#include "eplb/error.h"

namespace eplb::io {

namespace fs = std::filesystem;

std::string read_text_file(const std::string& path) {
    std::error_code ec;
    EPLB_CHECK(fs::exists(path, ec), path << ": no such file");
    EPLB_CHECK(!fs::is_directory(path, ec), path << ": is a directory, expected a file");
    std::ifstream in(path, std::ios::binary);
    EPLB_CHECK(in.good(), path << ": cannot open: " << std::strerror(errno));
    std::ostringstream buf;
    buf << in.rdbuf();
    EPLB_CHECK(!in.bad(), path << ": read error");
    return buf.str();
}

void write_file_atomic(const std::string& path, const std::string& content) {
    if (path == "-") {
        std::cout << content;
        std::cout.flush();
        return;
    }
    const fs::path target(path);
    std::error_code ec;
    EPLB_CHECK(!fs::is_directory(target, ec), path << ": is a directory, cannot write the output there");
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    EPLB_CHECK(fs::is_directory(dir, ec), path << ": directory " << dir.string() << " does not exist");
    std::string temp_name = ".";
    temp_name += target.filename().string();
    temp_name += ".tmp.XXXXXX";
    std::string tmpl = (dir / temp_name).string();
    const int fd = mkstemp(tmpl.data());
    EPLB_CHECK(fd >= 0, path << ": cannot create a temporary file in " << dir.string() << ": "
                             << std::strerror(errno));
    size_t done = 0;
    bool ok = true;
    while (done < content.size()) {
        const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            ok = false;
            break;
        }
        done += static_cast<size_t>(n);
    }
    const int saved_errno = errno;
    ok = ok && ::fsync(fd) == 0;
    ok = (::close(fd) == 0) && ok;
    if (ok) {
        // mkstemp creates 0600; give the output the usual permissions.
        ::chmod(tmpl.c_str(), 0644);
        ok = std::rename(tmpl.c_str(), path.c_str()) == 0;
    }
    if (!ok) {
        const int err = errno ? errno : saved_errno;
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
