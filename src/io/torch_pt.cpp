// torch.save archives through libzip (see torch_pt.h).
#include "io/torch_pt.h"

#include <sys/stat.h>
#include <zip.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>

#include "eplb/error.h"
#include "eplb/trace.h"

namespace eplb::io {

namespace {

// The first bytes of a legacy (pre-1.6, or _use_new_zipfile_serialization=False) torch.save file:
// PROTO 2, then LONG1 of the 10-byte magic number 0x1950a86a20f9469cfc6c.
constexpr char kLegacyMagic[] = "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19";
constexpr size_t kLegacyMagicSize = sizeof kLegacyMagic - 1;
constexpr char kZipMagic[] = "PK\x03\x04";
// The largest data.pkl read (a per-pass dump holds ~200 bytes of pickle per record).
constexpr uint64_t kMaxPickleBytes = uint64_t{1} << 31;
// Bytes read from a storage record at a time.
constexpr size_t kChunkBytes = size_t{4} << 20;

std::string zip_message(int code) {
    zip_error_t error;
    zip_error_init_with_code(&error, code);
    std::string message = zip_error_strerror(&error);
    zip_error_fini(&error);
    return message;
}

void check_magic(const std::string& head, const std::string& source) {
    EPLB_CHECK(head.compare(0, kLegacyMagicSize, kLegacyMagic, kLegacyMagicSize) != 0 ||
                   head.size() < kLegacyMagicSize,
               source << ": a torch.save file of the legacy format (torch < 1.6 or "
                         "_use_new_zipfile_serialization=False), which eplb does not read: re-save it with "
                         "torch >= 1.6: torch.save(torch.load(path), path)");
    EPLB_CHECK(
        head.size() >= 4 && head.compare(0, 4, kZipMagic) == 0,
        source << ": not a torch.save file (expected a zip archive, starting with \"PK\\x03\\x04\", found \""
               << printable(head.substr(0, 4)) << "\")");
}

template <typename T>
void convert_floats(const char* p, int64_t n, float* out) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) {
        T x;
        std::memcpy(&x, p + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
        const double v = static_cast<double>(x);
        // Converting a double beyond float32's range is undefined: it becomes +-inf (and is refused).
        out[i] = !(std::abs(v) > kMaxLoad + 0x1p103) ? static_cast<float>(v) : v > 0 ? kInf : -kInf;
    }
}

float half_to_float(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
    const uint32_t exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    if (exponent == 0) {
        const float v = std::ldexp(static_cast<float>(mantissa), -24);
        return sign ? -v : v;
    }
    const uint32_t bits = exponent == 31 ? sign | 0x7f800000u | (mantissa << 13)
                                         : sign | ((exponent + 112) << 23) | (mantissa << 13);
    return std::bit_cast<float>(bits);
}

void to_floats(const char* p, TorchDtype dtype, int64_t n, float* out) {
    switch (dtype) {
        case TorchDtype::kInt8:
            return convert_floats<int8_t>(p, n, out);
        case TorchDtype::kUInt8:
        case TorchDtype::kBool:
            return convert_floats<uint8_t>(p, n, out);
        case TorchDtype::kInt16:
            return convert_floats<int16_t>(p, n, out);
        case TorchDtype::kInt32:
            return convert_floats<int32_t>(p, n, out);
        case TorchDtype::kInt64:
            return convert_floats<int64_t>(p, n, out);
        case TorchDtype::kFloat32:
            std::memcpy(out, p, static_cast<size_t>(n) * 4);
            return;
        case TorchDtype::kFloat64:
            return convert_floats<double>(p, n, out);
        case TorchDtype::kBFloat16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t b;
                std::memcpy(&b, p + 2 * i, 2);
                out[i] = std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
            }
            return;
        case TorchDtype::kFloat16:
            for (int64_t i = 0; i < n; ++i) {
                uint16_t b;
                std::memcpy(&b, p + 2 * i, 2);
                out[i] = half_to_float(b);
            }
            return;
    }
}

template <typename T>
void convert_ints(const char* p, int64_t n, std::vector<int64_t>& out) {
    for (int64_t i = 0; i < n; ++i) {
        T x;
        std::memcpy(&x, p + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
        out.push_back(static_cast<int64_t>(x));
    }
}

void swap_bytes(char* p, size_t item_size, int64_t n) {
    if (item_size == 1) return;
    for (int64_t i = 0; i < n; ++i) std::reverse(p + i * item_size, p + (i + 1) * item_size);
}

}  // namespace

struct TorchArchive::Zip {
    std::string bytes;  // the archive when opened from memory (libzip reads it in place)
    zip_t* archive = nullptr;
    std::map<std::string, zip_uint64_t> index;  // entry name -> index

    ~Zip() {
        if (archive) zip_discard(archive);
    }

    // An entry opened for reading, closed on scope exit.
    struct File {
        zip_file_t* file = nullptr;
        ~File() {
            if (file) zip_fclose(file);
        }
    };

    void open(File& f, zip_uint64_t entry, const std::string& name, const std::string& source) {
        f.file = zip_fopen_index(archive, entry, 0);
        EPLB_CHECK(f.file, source << ": cannot read " << printable(name, 80)
                                  << " in the archive: " << zip_error_strerror(zip_get_error(archive)));
    }

    // Reads exactly n bytes or fails naming the record.
    static void read(File& f, char* dst, size_t n, const std::string& name, const std::string& source) {
        while (n > 0) {
            const zip_int64_t got = zip_fread(f.file, dst, n);
            EPLB_CHECK(got > 0, source << ": " << printable(name, 80) << " is truncated or unreadable"
                                       << (got < 0 ? std::string(": ") + zip_file_strerror(f.file) : ""));
            dst += got;
            n -= static_cast<size_t>(got);
        }
    }

    zip_uint64_t size_of(zip_uint64_t entry, const std::string& name, const std::string& source) const {
        zip_stat_t st;
        zip_stat_init(&st);
        EPLB_CHECK(zip_stat_index(archive, entry, 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE),
                   source << ": cannot stat " << printable(name, 80) << " in the archive");
        return st.size;
    }

    // A storage record's size, which must be stored as torch stores it: uncompressed and inside the
    // archive, so that its size is bytes that exist (a size the directory merely claims would be
    // allocated before reading).
    zip_uint64_t stored_size_of(zip_uint64_t entry, const std::string& name,
                                const std::string& source) const {
        zip_stat_t st;
        zip_stat_init(&st);
        EPLB_CHECK(zip_stat_index(archive, entry, 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE) &&
                       (st.valid & ZIP_STAT_COMP_SIZE) && (st.valid & ZIP_STAT_COMP_METHOD),
                   source << ": cannot stat " << printable(name, 80) << " in the archive");
        EPLB_CHECK(st.comp_method == ZIP_CM_STORE && st.comp_size == st.size,
                   source << ": " << printable(name, 80)
                          << " is compressed; torch.save stores tensor data uncompressed (re-save the file)");
        EPLB_CHECK(st.size <= archive_size, source << ": " << printable(name, 80) << " claims " << st.size
                                                   << " bytes, more than the archive's " << archive_size);
        return st.size;
    }

    uint64_t archive_size = 0;
};

TorchArchive::TorchArchive(std::unique_ptr<Zip> zip, std::string source)
    : zip_(std::move(zip)), source_(std::move(source)) {
    // The archive's directory: torch 1.x names it after the file, 2.x "archive".
    for (const auto& [name, entry] : zip_->index) {
        const size_t slash = name.find('/');
        if (slash != std::string::npos && name.compare(slash, std::string::npos, "/data.pkl") == 0) {
            EPLB_CHECK(prefix_.empty(), source_ << ": two data.pkl records in the archive: "
                                                << printable(prefix_ + "data.pkl", 80) << " and "
                                                << printable(name, 80));
            prefix_ = name.substr(0, slash + 1);
        }
    }
    EPLB_CHECK(!prefix_.empty(), source_ << ": a zip archive without <name>/data.pkl: not a torch.save file");
    const auto byteorder = zip_->index.find(prefix_ + "byteorder");
    if (byteorder != zip_->index.end()) {
        const zip_uint64_t size = zip_->size_of(byteorder->second, byteorder->first, source_);
        EPLB_CHECK(size <= 16,
                   source_ << ": byteorder record of " << size << " bytes, expected \"little\" or \"big\"");
        std::string order(size, '\0');
        Zip::File f;
        zip_->open(f, byteorder->second, byteorder->first, source_);
        Zip::read(f, order.data(), order.size(), byteorder->first, source_);
        EPLB_CHECK(order == "little" || order == "big", source_ << ": byteorder is \"" << printable(order)
                                                                << "\", expected \"little\" or \"big\"");
        big_endian_ = order == "big";
    }
    const std::string pkl_name = prefix_ + "data.pkl";
    const zip_uint64_t pkl_entry = zip_->index.at(pkl_name);
    const zip_uint64_t size = zip_->size_of(pkl_entry, pkl_name, source_);
    EPLB_CHECK(size <= kMaxPickleBytes,
               source_ << ": data.pkl is " << size << " bytes (at most " << kMaxPickleBytes << " are read)");
    // Read in chunks: a size the archive only claims allocates nothing before the bytes arrive.
    std::string pickle_bytes;
    Zip::File f;
    zip_->open(f, pkl_entry, pkl_name, source_);
    while (pickle_bytes.size() < size) {
        const size_t n = static_cast<size_t>(std::min<zip_uint64_t>(size - pickle_bytes.size(), kChunkBytes));
        const size_t old = pickle_bytes.size();
        pickle_bytes.resize(old + n);
        Zip::read(f, pickle_bytes.data() + old, n, pkl_name, source_);
    }
    pickle_ = parse_torch_pickle(pickle_bytes, source_);
}

TorchArchive::~TorchArchive() = default;
TorchArchive::TorchArchive(TorchArchive&&) noexcept = default;
TorchArchive& TorchArchive::operator=(TorchArchive&&) noexcept = default;

namespace {

void index_entries(zip_t* archive, std::map<std::string, zip_uint64_t>& index, const std::string& source) {
    const zip_int64_t n = zip_get_num_entries(archive, 0);
    for (zip_int64_t i = 0; i < n; ++i) {
        const char* name = zip_get_name(archive, static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW);
        EPLB_CHECK(name, source << ": zip entry " << i << " has no readable name");
        index.emplace(name, static_cast<zip_uint64_t>(i));
    }
}

}  // namespace

TorchArchive TorchArchive::open_file(const std::string& path) {
    struct stat st {};
    EPLB_CHECK(::stat(path.c_str(), &st) == 0, path << ": no such file");
    EPLB_CHECK(S_ISREG(st.st_mode), path << ": is not a regular file (a .pt archive is read in place)");
    std::string head(16, '\0');
    {
        std::ifstream in(path, std::ios::binary);
        EPLB_CHECK(in, path << ": cannot open");
        in.read(head.data(), static_cast<std::streamsize>(head.size()));
        head.resize(static_cast<size_t>(in.gcount()));
    }
    check_magic(head, path);
    auto zip = std::make_unique<Zip>();
    zip->archive_size = static_cast<uint64_t>(st.st_size);
    int code = 0;
    zip->archive = zip_open(path.c_str(), ZIP_RDONLY, &code);
    EPLB_CHECK(zip->archive, path << ": not a readable zip archive (" << zip_message(code)
                                  << "): a truncated or damaged torch.save file");
    index_entries(zip->archive, zip->index, path);
    return TorchArchive(std::move(zip), path);
}

TorchArchive TorchArchive::open_bytes(std::string bytes, const std::string& source) {
    check_magic(bytes.substr(0, 16), source);
    auto zip = std::make_unique<Zip>();
    zip->bytes = std::move(bytes);
    zip->archive_size = zip->bytes.size();
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* src = zip_source_buffer_create(zip->bytes.data(), zip->bytes.size(), 0, &error);
    EPLB_CHECK(src, source << ": cannot read the archive: " << zip_error_strerror(&error));
    zip->archive = zip_open_from_source(src, ZIP_RDONLY, &error);
    if (!zip->archive) {
        zip_source_free(src);
        const std::string message = zip_error_strerror(&error);
        zip_error_fini(&error);
        EPLB_FAIL(source << ": not a readable zip archive (" << message
                         << "): a truncated or damaged torch.save file");
    }
    zip_error_fini(&error);
    index_entries(zip->archive, zip->index, source);
    return TorchArchive(std::move(zip), source);
}

int64_t TorchArchive::numel(int tensor, const std::string& what) const {
    const TorchTensor& t = pickle_.tensors[static_cast<size_t>(tensor)];
    const TorchStorage& s = pickle_.storages[static_cast<size_t>(t.storage)];
    const size_t item = torch_dtype_size(s.dtype);
    // Bounds that keep every product below 2^62: 2^40 elements, 2^31 per dimension.
    constexpr int64_t kMaxElements = int64_t{1} << 40, kMaxDim = int64_t{1} << 31;
    EPLB_CHECK(s.numel <= kMaxElements, source_ << ": " << what << ": storage " << printable(s.key) << " of "
                                                << s.numel << " elements is too large");
    const std::string name = prefix_ + "data/" + s.key;
    const auto entry = zip_->index.find(name);
    EPLB_CHECK(entry != zip_->index.end(),
               source_ << ": " << what << ": storage record " << printable(name, 80) << " is missing");
    const zip_uint64_t bytes = zip_->stored_size_of(entry->second, name, source_);
    EPLB_CHECK(bytes == static_cast<uint64_t>(s.numel) * item,
               source_ << ": " << what << ": storage " << printable(name, 80) << " is " << bytes
                       << " bytes, the pickle promises " << s.numel << " " << torch_dtype_name(s.dtype)
                       << " elements (" << static_cast<uint64_t>(s.numel) * item << " bytes)");
    EPLB_CHECK(t.offset >= 0 && t.offset <= s.numel, source_ << ": " << what << ": storage offset "
                                                             << t.offset << " is outside the storage of "
                                                             << s.numel << " elements");
    int64_t count = 1, last = t.offset;
    for (size_t d = 0; d < t.sizes.size(); ++d) {
        EPLB_CHECK(t.sizes[d] >= 0 && t.sizes[d] < kMaxDim,
                   source_ << ": " << what << ": dimension " << d << " has size " << t.sizes[d]);
        EPLB_CHECK(t.strides[d] >= 0 && t.strides[d] <= kMaxElements,
                   source_ << ": " << what << ": dimension " << d << " has stride " << t.strides[d]
                           << " (expected 0 to 2^40)");
        count *= t.sizes[d];
        EPLB_CHECK(count <= kMaxElements, source_ << ": " << what << " has more than 2^40 elements");
        // last + (size - 1) * stride, refused before it could overflow.
        if (t.sizes[d] > 1) {
            EPLB_CHECK(t.strides[d] <= (kMaxElements * 2 - last) / (t.sizes[d] - 1),
                       source_ << ": " << what << ": the view (offset " << t.offset
                               << ", its sizes and strides) reaches past its storage of " << s.numel
                               << " elements");
            last += (t.sizes[d] - 1) * t.strides[d];
        }
    }
    EPLB_CHECK(count == 0 || last < s.numel, source_ << ": " << what << ": the view (offset " << t.offset
                                                     << ", its sizes and strides) reaches element " << last
                                                     << " of a storage of " << s.numel << " elements");
    // Zero strides repeat elements: bound what a small file can make us allocate.
    EPLB_CHECK(count <= std::max<int64_t>(s.numel, int64_t{1} << 24),
               source_ << ": " << what << " has " << count << " elements from a storage of " << s.numel);
    return count;
}

bool TorchArchive::is_contiguous(int tensor) const {
    const TorchTensor& t = pickle_.tensors[static_cast<size_t>(tensor)];
    // C-contiguous: strides of dimensions longer than 1 are the products of the later sizes.
    int64_t expected = 1;
    for (size_t d = t.sizes.size(); d-- > 0;) {
        if (t.sizes[d] != 1 && t.strides[d] != expected) return false;
        expected *= t.sizes[d];
    }
    return true;
}

template <typename Sink>
void TorchArchive::for_each_chunk(int tensor, const std::string& what, Sink&& sink, int64_t first,
                                  int64_t range) const {
    const int64_t numel_all = numel(tensor, what);
    const bool contiguous = is_contiguous(tensor);
    EPLB_CHECK(range < 0 || (contiguous && first >= 0 && first + range <= numel_all),
               source_ << ": " << what << ": elements [" << first << ", " << first + range
                       << ") of a tensor of " << numel_all << (contiguous ? "" : " (not contiguous)"));
    const int64_t count = range < 0 ? numel_all : range;
    if (count == 0) return;
    const TorchTensor& t = pickle_.tensors[static_cast<size_t>(tensor)];
    const TorchStorage& s = pickle_.storages[static_cast<size_t>(t.storage)];
    const size_t item = torch_dtype_size(s.dtype);
    const std::string name = prefix_ + "data/" + s.key;
    const zip_uint64_t entry = zip_->index.at(name);
    Zip::File f;
    zip_->open(f, entry, name, source_);
    // Positions the stream at element `first` of the storage: seek when libzip can (stored entries,
    // as torch writes them), else read and drop.
    auto skip_to = [&](int64_t first) {
        const uint64_t target = static_cast<uint64_t>(first) * item;
        if (target == 0 || zip_fseek(f.file, static_cast<zip_int64_t>(target), SEEK_SET) == 0) return;
        std::vector<char> scratch(std::min<uint64_t>(target, kChunkBytes));
        for (uint64_t done = 0; done < target;) {
            const size_t n = static_cast<size_t>(std::min<uint64_t>(target - done, scratch.size()));
            Zip::read(f, scratch.data(), n, name, source_);
            done += n;
        }
    };
    if (contiguous) {
        skip_to(t.offset + first);
        std::vector<char> buffer(std::min<size_t>(static_cast<size_t>(count) * item, kChunkBytes));
        const int64_t per_chunk = static_cast<int64_t>(buffer.size() / item);
        for (int64_t done = 0; done < count;) {
            const int64_t n = std::min(per_chunk, count - done);
            Zip::read(f, buffer.data(), static_cast<size_t>(n) * item, name, source_);
            if (big_endian_) swap_bytes(buffer.data(), item, n);
            sink(buffer.data(), n);
            done += n;
        }
        return;
    }
    // A strided view: read the storage span it covers, then gather its elements in C order.
    int64_t last = t.offset;
    for (size_t d = 0; d < t.sizes.size(); ++d) last += (t.sizes[d] - 1) * t.strides[d];
    skip_to(t.offset);
    std::vector<char> span(static_cast<size_t>(last - t.offset + 1) * item);
    Zip::read(f, span.data(), span.size(), name, source_);
    std::vector<char> gathered(static_cast<size_t>(count) * item);
    std::vector<int64_t> index(t.sizes.size(), 0);
    for (int64_t i = 0; i < count; ++i) {
        int64_t at = 0;
        for (size_t d = 0; d < index.size(); ++d) at += index[d] * t.strides[d];
        std::memcpy(gathered.data() + i * static_cast<int64_t>(item),
                    span.data() + at * static_cast<int64_t>(item), item);
        for (size_t d = index.size(); d-- > 0;) {
            if (++index[d] < t.sizes[d]) break;
            index[d] = 0;
        }
    }
    if (big_endian_) swap_bytes(gathered.data(), item, count);
    sink(gathered.data(), count);
}

void TorchArchive::read_floats(int tensor, const std::string& what, float* out) const {
    const TorchDtype dtype =
        pickle_.storages[static_cast<size_t>(pickle_.tensors[static_cast<size_t>(tensor)].storage)].dtype;
    for_each_chunk(tensor, what, [&](const char* p, int64_t n) {
        to_floats(p, dtype, n, out);
        out += n;
    });
}

void TorchArchive::read_floats_range(int tensor, const std::string& what, int64_t first, int64_t count,
                                     float* out) const {
    const TorchDtype dtype =
        pickle_.storages[static_cast<size_t>(pickle_.tensors[static_cast<size_t>(tensor)].storage)].dtype;
    for_each_chunk(
        tensor, what,
        [&](const char* p, int64_t n) {
            to_floats(p, dtype, n, out);
            out += n;
        },
        first, count);
}

std::vector<int64_t> TorchArchive::read_ints(int tensor, const std::string& what) const {
    const TorchDtype dtype =
        pickle_.storages[static_cast<size_t>(pickle_.tensors[static_cast<size_t>(tensor)].storage)].dtype;
    std::vector<int64_t> out;
    for_each_chunk(tensor, what, [&](const char* p, int64_t n) {
        switch (dtype) {
            case TorchDtype::kInt8:
                return convert_ints<int8_t>(p, n, out);
            case TorchDtype::kUInt8:
            case TorchDtype::kBool:
                return convert_ints<uint8_t>(p, n, out);
            case TorchDtype::kInt16:
                return convert_ints<int16_t>(p, n, out);
            case TorchDtype::kInt32:
                return convert_ints<int32_t>(p, n, out);
            case TorchDtype::kInt64:
                return convert_ints<int64_t>(p, n, out);
            default:
                EPLB_FAIL(source_ << ": " << what << " is a " << torch_dtype_name(dtype)
                                  << " tensor, expected integers");
        }
    });
    return out;
}

bool looks_like_torch_file(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    std::ifstream in(path, std::ios::binary);
    char head[kLegacyMagicSize] = {};
    in.read(head, sizeof head);
    const std::string got(head, static_cast<size_t>(in.gcount()));
    return got.compare(0, 4, kZipMagic) == 0 ||
           (got.size() == kLegacyMagicSize &&
            got.compare(0, kLegacyMagicSize, kLegacyMagic, kLegacyMagicSize) == 0);
}

}  // namespace eplb::io
