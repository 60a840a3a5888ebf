// libFuzzer harness: torch.save (.pt) reading on arbitrary bytes. Input starting with a zip header
// goes through the whole SGLang dump reader (libzip, the restricted unpickler, tensor views); any
// other input is a data.pkl (in an archive, mutations would mostly break its CRC): the unpickler
// reads it, and when it accepts, the pickle is stored in a fresh archive with a record of the
// promised size for each storage it names, which the whole reader then reads, tensor views and
// SGLang's keys included. Accepted traces must be valid and survive every writer; refusals must
// be clean (fuzz_util.h).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <zip.h>

#include "io/pickle.h"
#include "io/sglang_pt.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

// A 1.x-layout archive "f/" of `pickle` and one stored record per storage (deterministic values), or
// "" when a storage is too large to bother.
std::string archive_of(const std::string& pickle_bytes, const eplb::io::Pickle& pickle) {
    std::vector<std::string> records;
    std::vector<std::string> names;
    for (const eplb::io::TorchStorage& s : pickle.storages) {
        const uint64_t bytes = static_cast<uint64_t>(s.numel) * eplb::io::torch_dtype_size(s.dtype);
        if (bytes > (1u << 20) || s.key.find('\0') != std::string::npos) return "";
        std::string data(bytes, '\0');
        // Element j is j % 4 in its lowest byte: small counts, valid expert ids of a map, tiny floats.
        const size_t item = eplb::io::torch_dtype_size(s.dtype);
        for (size_t j = 0; j * item < data.size(); ++j) data[j * item] = static_cast<char>(j % 4);
        records.push_back(std::move(data));
        names.push_back("f/data/" + s.key);
    }
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
    if (!buffer) return "";
    zip_source_keep(buffer);
    zip_t* archive = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
    std::string out;
    if (archive) {
        bool ok = true;
        auto add = [&](const std::string& name, const std::string& data) {
            zip_source_t* src = zip_source_buffer(archive, data.data(), data.size(), 0);
            const zip_int64_t index = src ? zip_file_add(archive, name.c_str(), src, ZIP_FL_OVERWRITE) : -1;
            if (index < 0) {
                if (src) zip_source_free(src);
                ok = false;
                return;
            }
            zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
        };
        add("f/data.pkl", pickle_bytes);
        for (size_t i = 0; i < records.size() && ok; ++i) add(names[i], records[i]);
        if (ok && zip_close(archive) == 0 && zip_source_open(buffer) == 0) {
            zip_source_seek(buffer, 0, SEEK_END);
            out.resize(static_cast<size_t>(zip_source_tell(buffer)));
            zip_source_seek(buffer, 0, SEEK_SET);
            if (zip_source_read(buffer, out.data(), out.size()) != static_cast<zip_int64_t>(out.size()))
                out.clear();
            zip_source_close(buffer);
        } else if (!ok) {
            zip_discard(archive);
        }
    }
    zip_source_free(buffer);
    zip_error_fini(&error);
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace eplb;
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    if (bytes.rfind("PK", 0) == 0) {
        LoadTrace trace;
        if (fuzz::accepts([&] { trace = io::parse_sglang_pt(bytes, fuzz::kSource); }))
            fuzz::check_trace(trace);
        return 0;
    }
    io::Pickle pickle;
    if (!fuzz::accepts([&] { pickle = io::parse_torch_pickle(bytes, fuzz::kSource); })) return 0;
    FUZZ_CHECK(pickle.root >= 0 && pickle.root < static_cast<int>(pickle.values.size()), "root out of range");
    for (size_t i = 0; i < pickle.values.size(); ++i) {
        const io::PickleValue& v = pickle.values[i];
        for (int item : v.items)
            FUZZ_CHECK(item >= 0 && item < static_cast<int>(pickle.values.size()), "element id out of range");
        (void)io::describe_pickle_value(pickle, static_cast<int>(i));
    }
    for (const io::TorchTensor& t : pickle.tensors) {
        FUZZ_CHECK(t.storage >= 0 && t.storage < static_cast<int>(pickle.storages.size()),
                   "storage out of range");
        FUZZ_CHECK(t.sizes.size() == t.strides.size(), "sizes and strides differ in length");
    }
    const std::string archive = archive_of(bytes, pickle);
    LoadTrace trace;
    if (!archive.empty() && fuzz::accepts([&] { trace = io::parse_sglang_pt(archive, fuzz::kSource); }))
        fuzz::check_trace(trace);
    return 0;
}
