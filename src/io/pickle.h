// A restricted reader of the pickles that torch.save writes (data.pkl of a .pt archive): dicts,
// lists, tuples, numbers, strings, None, bools and tensors. A pickle is a program; this reader runs
// none of it: every opcode or global outside that set is refused, naming it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace eplb::io {

// Element types of torch's typed storages (torch.IntStorage, ...).
enum class TorchDtype {
    kInt8,
    kUInt8,
    kInt16,
    kInt32,
    kInt64,
    kFloat16,
    kBFloat16,
    kFloat32,
    kFloat64,
    kBool
};

size_t torch_dtype_size(TorchDtype dtype);
const char* torch_dtype_name(TorchDtype dtype);  // "int32", ...

// A storage named by a persistent id ("storage", torch.XStorage, key, location, numel): its data
// is the archive record data/<key>.
struct TorchStorage {
    TorchDtype dtype = TorchDtype::kFloat32;
    std::string key;
    std::string location;  // "cpu", "cuda:0": where it lived when saved, irrelevant here
    int64_t numel = 0;
};

// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...): a view of a storage.
struct TorchTensor {
    int storage = 0;  // index into Pickle::storages
    int64_t offset = 0;
    std::vector<int64_t> sizes, strides;
};

// One value of the pickle. Containers hold the ids of their elements (a dict: key, value, key,
// value, ...), so shared and even cyclic references (memo) are plain indices, and nothing recurses.
struct PickleValue {
    enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kStorage, kTensor };
    Kind kind = Kind::kNone;
    int64_t number = 0;  // bool, int; storage, tensor: index into Pickle::storages, tensors
    double real = 0.0;   // float
    std::string text;    // string; global: "module.name"
    std::vector<int> items;
};

struct Pickle {
    std::vector<PickleValue> values;
    std::vector<TorchStorage> storages;
    std::vector<TorchTensor> tensors;
    int root = -1;

    const PickleValue& at(int id) const { return values[static_cast<size_t>(id)]; }
    // The value of dict `dict` under the string key `key`, or -1 when absent.
    int find(int dict, const std::string& key) const;
};

// Parses `bytes` (the whole pickle). Invalid input naming `source` on a refused opcode or global
// (with its byte offset), a malformed or truncated pickle, or a tensor whose arguments are not
// what torch writes. Tensor shapes are checked against their storages by the archive reader.
Pickle parse_torch_pickle(const std::string& bytes, const std::string& source);

// A short description of a value for messages: "a list of 3", "the string \"x\"", "None", ...
std::string describe_pickle_value(const Pickle& pickle, int id);

}  // namespace eplb::io
