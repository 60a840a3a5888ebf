// torch.save files (.pt): a zip archive of `<name>/data.pkl` (the object, read by the restricted
// unpickler of pickle.h), `<name>/data/<key>` (each storage's raw elements, stored uncompressed),
// `<name>/byteorder` (torch 2.x) and `<name>/version`. Zip access goes through libzip.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/pickle.h"

namespace eplb::io {

class TorchArchive {
  public:
    // Opens a .pt file, or one held in memory (`bytes`, named `source` in messages). Invalid input
    // naming the file when it is not a zip archive (the legacy pre-1.6 format gets a message saying
    // how to re-save it), lacks data.pkl, has a bad byteorder record, or its pickle is refused.
    static TorchArchive open_file(const std::string& path);
    static TorchArchive open_bytes(std::string bytes, const std::string& source);
    ~TorchArchive();
    TorchArchive(TorchArchive&&) noexcept;
    TorchArchive& operator=(TorchArchive&&) noexcept;

    const Pickle& pickle() const { return pickle_; }
    const std::string& source() const { return source_; }
    bool big_endian() const { return big_endian_; }

    // Elements of tensor `tensor` (its sizes' product), after checking its view against its
    // storage: sizes, strides and offset >= 0, no overflow, every element inside the storage, the
    // storage record of numel x item size bytes. `what` names the tensor in messages ("logical_count").
    int64_t numel(int tensor, const std::string& what) const;

    // Tensor `tensor`'s elements in C order converted to float32 into `out` (numel() of them).
    // Contiguous tensors are streamed from the archive in chunks straight into `out`; other views
    // read the storage span they cover. Values beyond float32's range become +-infinity.
    void read_floats(int tensor, const std::string& what, float* out) const;

    // An integer tensor's elements in C order (float tensors are refused).
    std::vector<int64_t> read_ints(int tensor, const std::string& what) const;

    // Whether the tensor is C-contiguous (its elements lie in order in the storage record).
    bool is_contiguous(int tensor) const;

    // Elements [first, first + count) in C order of a contiguous tensor, as read_floats converts
    // them: one step of a time series, read without the rest.
    void read_floats_range(int tensor, const std::string& what, int64_t first, int64_t count,
                           float* out) const;

  private:
    struct Zip;
    TorchArchive(std::unique_ptr<Zip> zip, std::string source);
    // Calls sink(const char* native_bytes, int64_t count) on successive runs of the tensor's
    // elements in C order, byte-swapped to the host's order.
    // Only elements [first, first + count) when count >= 0 (contiguous tensors only).
    template <typename Sink>
    void for_each_chunk(int tensor, const std::string& what, Sink&& sink, int64_t first = 0,
                        int64_t count = -1) const;

    std::unique_ptr<Zip> zip_;
    std::string source_;
    std::string prefix_;  // "archive/": the directory holding data.pkl
    bool big_endian_ = false;
    Pickle pickle_;
};

// Whether the regular file `path` starts like a torch.save file: a zip header, or the pickled magic
// number of the legacy format. False for anything else, and for FIFOs and devices (not read).
bool looks_like_torch_file(const std::string& path);

}  // namespace eplb::io
