// .npy header parsing and the streaming step reader (see npy.h).
#include "io/npy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "eplb/error.h"

namespace eplb::io {

NpyHeader parse_npy_header(const std::string& bytes, const std::string& source) {
    // Format: "\x93NUMPY", major, minor, header length (2 bytes for v1, 4 for v2/3), a Python dict
    // literal header, then the raw array (C order here).
    EPLB_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0,
               source << ": not a .npy file (bad magic)");
    const int major = static_cast<unsigned char>(bytes[6]);
    EPLB_CHECK(major >= 1 && major <= 3, source << ": unsupported .npy version " << major);
    const size_t len_bytes = major == 1 ? 2 : 4;
    EPLB_CHECK(bytes.size() >= 8 + len_bytes, source << ": truncated .npy header");
    size_t header_len = 0;
    for (size_t k = 0; k < len_bytes; ++k) {
        header_len |= static_cast<size_t>(static_cast<unsigned char>(bytes[8 + k])) << (8 * k);
    }
    NpyHeader h;
    h.data_offset = 8 + len_bytes + header_len;
    EPLB_CHECK(bytes.size() >= h.data_offset, source << ": truncated .npy header");
    const std::string header = bytes.substr(8 + len_bytes, header_len);
    auto value_of = [&](const std::string& key) {
        const size_t k = header.find("'" + key + "'");
        EPLB_CHECK(k != std::string::npos, source << ": .npy header has no '" << key << "'");
        const size_t colon = header.find(':', k);
        EPLB_CHECK(colon != std::string::npos, source << ": malformed .npy header");
        return header.substr(colon + 1);
    };
    std::string descr = value_of("descr");
    const size_t q1 = descr.find('\''), q2 = descr.find('\'', q1 + 1);
    EPLB_CHECK(q1 != std::string::npos && q2 != std::string::npos,
               source << ": malformed .npy descr " << printable(descr));
    descr = descr.substr(q1 + 1, q2 - q1 - 1);
    EPLB_CHECK(value_of("fortran_order").find("False") < value_of("fortran_order").find_first_of(",}"),
               source << ": Fortran-order .npy arrays are not supported (save with numpy.ascontiguousarray)");
    const std::string shape_text = value_of("shape");
    const size_t p1 = shape_text.find('('), p2 = shape_text.find(')');
    EPLB_CHECK(p1 != std::string::npos && p2 != std::string::npos && p1 < p2,
               source << ": malformed .npy shape " << printable(shape_text));
    std::istringstream ss(shape_text.substr(p1 + 1, p2 - p1 - 1));
    std::string dim;
    while (std::getline(ss, dim, ',')) {
        const size_t b = dim.find_first_not_of(' ');
        if (b == std::string::npos) continue;
        size_t e = dim.find_last_not_of(' ') + 1;
        if (e > b + 1 && dim[e - 1] == 'L') --e;  // Python 2 wrote longs as 3L
        int64_t d = 0;
        const auto [ptr, ec] = std::from_chars(dim.data() + b, dim.data() + e, d);
        EPLB_CHECK(ec == std::errc() && ptr == dim.data() + e, source << ": .npy shape has a dimension '"
                                                                      << printable(dim.substr(b, e - b))
                                                                      << "', expected an integer");
        h.shape.push_back(d);
    }
    EPLB_CHECK(h.shape.size() == 2 || h.shape.size() == 3,
               source << ": .npy array has " << h.shape.size()
                      << " dimensions, expected [layers][experts] or "
                      << "[steps][layers][experts]");
    h.count = 1;
    for (int64_t d : h.shape) {
        EPLB_CHECK(d >= 1 && d < (1ll << 31), source << ": .npy shape has a dimension of " << d);
        h.count *= d;
        EPLB_CHECK(h.count <= (1ll << 40), source << ": .npy array is too large");
    }
    if (descr == "<i4") {
        h.type = NpyType::kInt32;
    } else if (descr == "<i8") {
        h.type = NpyType::kInt64;
    } else if (descr == "<f4") {
        h.type = NpyType::kFloat32;
    } else if (descr == "<f8") {
        h.type = NpyType::kFloat64;
    } else {
        EPLB_FAIL(source << ": .npy dtype '" << printable(descr)
                         << "' is not supported (int32, int64, float32, float64, little-endian)");
    }
    h.item_size = h.type == NpyType::kInt32 || h.type == NpyType::kFloat32 ? 4 : 8;
    return h;
}

namespace {

template <typename T>
int64_t convert(const char* data, int64_t count, float* out) {
    int bad = 0;  // no early exit in the common case
    for (int64_t i = 0; i < count; ++i) {
        T x;
        std::memcpy(&x, data + i * sizeof(T), sizeof(T));
        const double v = static_cast<double>(x);
        const bool ok = is_float32_load(v);
        bad |= static_cast<int>(!ok);
        // Converting a double beyond float32's range is undefined: it becomes +-inf (and is refused).
        constexpr float kInf = std::numeric_limits<float>::infinity();
        out[i] = ok || !(std::abs(v) > kMaxLoad) ? static_cast<float>(v) : v > 0 ? kInf : -kInf;
    }
    if (bad == 0) return -1;
    for (int64_t i = 0; i < count; ++i) {
        T x;
        std::memcpy(&x, data + i * sizeof(T), sizeof(T));
        const double v = static_cast<double>(x);
        if (!is_float32_load(v)) return i;
    }
    return -1;
}

}  // namespace

std::string npy_preamble(const std::string& dict) {
    std::string header = dict;
    const size_t total = 10 + header.size() + 1;  // magic, version, length, dict, '\n'
    header.append((64 - total % 64) % 64, ' ');
    header.push_back('\n');
    std::string out = "\x93NUMPY";
    out.push_back('\x01');
    out.push_back('\x00');
    out.push_back(static_cast<char>(header.size() & 0xff));
    out.push_back(static_cast<char>(header.size() >> 8));
    return out + header;
}

int64_t npy_to_float(const char* data, NpyType type, int64_t count, float* out) {
    switch (type) {
        case NpyType::kInt32:
            return convert<int32_t>(data, count, out);
        case NpyType::kInt64:
            return convert<int64_t>(data, count, out);
        case NpyType::kFloat32:
            return convert<float>(data, count, out);
        case NpyType::kFloat64:
            return convert<double>(data, count, out);
    }
    return -1;
}

namespace {

// Reads exactly n bytes at `offset` or fails naming the file.
void pread_exact(int fd, char* dst, size_t n, off_t offset, const std::string& path) {
    while (n > 0) {
        const ssize_t got = ::pread(fd, dst, n, offset);
        if (got < 0 && errno == EINTR) continue;
        EPLB_CHECK(got > 0, path << ": read error at byte " << offset << ": "
                                 << (got == 0 ? "unexpected end of file" : std::strerror(errno)));
        dst += got;
        n -= static_cast<size_t>(got);
        offset += got;
    }
}

}  // namespace

NpyStepReader::NpyStepReader(const std::string& path, Range layers, Range steps,
                             const std::string& layers_what, int first_layer_id)
    : path_(path), first_id_(first_layer_id) {
    struct stat st {};
    EPLB_CHECK(::stat(path.c_str(), &st) == 0, path << ": no such file");
    EPLB_CHECK(!S_ISDIR(st.st_mode), path << ": is a directory, expected a file");
    // Steps are read with pread at their offsets; opening a FIFO would also block until a writer comes.
    EPLB_CHECK(S_ISREG(st.st_mode), path << ": is not a regular file (a .npy series is read in place)");
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    EPLB_CHECK(fd_ >= 0, path << ": cannot open: " << std::strerror(errno));
    try {
        // The header is at most a few KB (v1: < 64 KiB); read what is there of the first 64 KiB.
        std::string head(static_cast<size_t>(std::min<off_t>(st.st_size, 65536 + 12)), '\0');
        if (!head.empty()) pread_exact(fd_, head.data(), head.size(), 0, path);
        header_ = parse_npy_header(head, path);
        const auto& shape = header_.shape;
        file_steps_ = shape.size() == 3 ? static_cast<int>(shape[0]) : 1;
        file_layers_ = static_cast<int>(shape[shape.size() - 2]);
        file_experts_ = static_cast<int>(shape.back());
        const uint64_t expected = static_cast<uint64_t>(header_.count) * header_.item_size;
        EPLB_CHECK(static_cast<uint64_t>(st.st_size) >= header_.data_offset &&
                       static_cast<uint64_t>(st.st_size) - header_.data_offset == expected,
                   path << ": .npy data is "
                        << (static_cast<uint64_t>(st.st_size) >= header_.data_offset
                                ? static_cast<uint64_t>(st.st_size) - header_.data_offset
                                : 0)
                        << " bytes, the header promises " << expected);
        // Row r has layer id first_id_ + r; the selection keeps the ids in [first, end).
        const int64_t first_row = std::max<int64_t>(int64_t{layers.first} - first_id_, 0);
        const int64_t end_row = layers.end == -1 ? file_layers_ : int64_t{layers.end} - first_id_;
        EPLB_CHECK(first_row < file_layers_ && end_row <= file_layers_ && first_row < end_row,
                   path << ": " << layers_what << " " << layers.first << ":"
                        << (layers.end == -1 ? std::string() : std::to_string(layers.end))
                        << " is outside the trace's layers " << first_id_ << ":" << first_id_ + file_layers_);
        first_row_ = static_cast<int>(first_row);
        num_rows_ = static_cast<int>(end_row - first_row);
        first_step_ = steps.first;
        end_step_ = steps.end == -1 ? file_steps_ : steps.end;
        EPLB_CHECK(first_step_ >= 0 && first_step_ < end_step_ && end_step_ <= file_steps_,
                   path << ": --steps " << steps.first << ":" << end_step_ << " is outside the trace's "
                        << file_steps_ << " steps [0, " << file_steps_ << ")");
        bytes_.resize(static_cast<size_t>(num_rows_) * file_experts_ * header_.item_size);
    } catch (...) {
        ::close(fd_);
        throw;
    }
}

NpyStepReader::~NpyStepReader() {
    if (fd_ >= 0) ::close(fd_);
}

std::vector<int> NpyStepReader::layer_ids() const {
    std::vector<int> ids(num_rows_);
    for (int i = 0; i < num_rows_; ++i) ids[i] = first_id_ + first_row_ + i;
    return ids;
}

void NpyStepReader::load_step(int t, float* out) {
    EPLB_CHECK(t >= 0 && t < num_steps(),
               path_ << ": step " << t << " is outside [0, " << num_steps() << ")");
    const int step = first_step_ + t;
    const size_t row_bytes = static_cast<size_t>(file_experts_) * header_.item_size;
    const off_t offset = static_cast<off_t>(
        header_.data_offset + (static_cast<size_t>(step) * file_layers_ + first_row_) * row_bytes);
    pread_exact(fd_, bytes_.data(), bytes_.size(), offset, path_);
    const int64_t count = static_cast<int64_t>(num_rows_) * file_experts_;
    const int64_t bad = npy_to_float(bytes_.data(), header_.type, count, out);
    if (bad >= 0) {
        EPLB_FAIL(path_ << ": load at step " << step << ", layer "
                        << first_id_ + first_row_ + bad / file_experts_ << ", expert " << bad % file_experts_
                        << " is " << out[bad] << ": loads must be finite and >= 0");
    }
}

}  // namespace eplb::io
