// The restricted torch.save unpickler (see pickle.h): a stack machine over the opcodes that
// torch.save emits at protocols 2 to 5 for plain data and tensors, with everything else refused.
#include "io/pickle.h"

#include <cstring>
#include <map>
#include <sstream>
#include <unordered_map>

#include "eplb/error.h"

namespace eplb::io {

size_t torch_dtype_size(TorchDtype dtype) {
    switch (dtype) {
        case TorchDtype::kInt8:
        case TorchDtype::kUInt8:
        case TorchDtype::kBool:
            return 1;
        case TorchDtype::kInt16:
        case TorchDtype::kFloat16:
        case TorchDtype::kBFloat16:
            return 2;
        case TorchDtype::kInt32:
        case TorchDtype::kFloat32:
            return 4;
        case TorchDtype::kInt64:
        case TorchDtype::kFloat64:
            return 8;
    }
    return 1;
}

const char* torch_dtype_name(TorchDtype dtype) {
    switch (dtype) {
        case TorchDtype::kInt8:
            return "int8";
        case TorchDtype::kUInt8:
            return "uint8";
        case TorchDtype::kBool:
            return "bool";
        case TorchDtype::kInt16:
            return "int16";
        case TorchDtype::kFloat16:
            return "float16";
        case TorchDtype::kBFloat16:
            return "bfloat16";
        case TorchDtype::kInt32:
            return "int32";
        case TorchDtype::kFloat32:
            return "float32";
        case TorchDtype::kInt64:
            return "int64";
        case TorchDtype::kFloat64:
            return "float64";
    }
    return "?";
}

int Pickle::find(int dict, const std::string& key) const {
    const PickleValue& d = at(dict);
    if (d.kind != PickleValue::Kind::kDict) return -1;
    for (size_t i = 0; i + 1 < d.items.size(); i += 2) {
        const PickleValue& k = at(d.items[i]);
        if (k.kind == PickleValue::Kind::kString && k.text == key) return d.items[i + 1];
    }
    return -1;
}

std::string describe_pickle_value(const Pickle& pickle, int id) {
    using Kind = PickleValue::Kind;
    const PickleValue& v = pickle.at(id);
    std::ostringstream out;
    switch (v.kind) {
        case Kind::kNone:
            return "None";
        case Kind::kBool:
            return v.number ? "True" : "False";
        case Kind::kInt:
            return "the integer " + std::to_string(v.number);
        case Kind::kFloat:
            out << "the float " << v.real;
            return out.str();
        case Kind::kString:
            return "the string \"" + printable(v.text) + "\"";
        case Kind::kTuple:
            return "a tuple of " + std::to_string(v.items.size());
        case Kind::kList:
            return "a list of " + std::to_string(v.items.size());
        case Kind::kDict:
            return "a dict of " + std::to_string(v.items.size() / 2);
        case Kind::kGlobal:
            return "the global " + v.text;
        case Kind::kStorage:
            return "a storage";
        case Kind::kTensor: {
            const TorchTensor& t = pickle.tensors[static_cast<size_t>(v.number)];
            const char* dtype = torch_dtype_name(pickle.storages[static_cast<size_t>(t.storage)].dtype);
            out << (dtype[0] == 'i' || dtype[0] == 'u' ? "an " : "a ") << dtype << " tensor [";
            for (size_t i = 0; i < t.sizes.size(); ++i) out << (i ? "][" : "") << t.sizes[i];
            out << "]";
            return out.str();
        }
    }
    return "?";
}

namespace {

// Every opcode of pickle protocols 0-5, for naming the refused ones.
const char* opcode_name(unsigned char op) {
    // 68 entries, packed several a line.
    // clang-format off
    static const std::map<unsigned char, const char*> kNames = {
        {'(', "MARK"}, {'.', "STOP"}, {'0', "POP"}, {'1', "POP_MARK"}, {'2', "DUP"}, {'F', "FLOAT"},
        {'I', "INT"}, {'J', "BININT"}, {'K', "BININT1"}, {'L', "LONG"}, {'M', "BININT2"}, {'N', "NONE"},
        {'P', "PERSID"}, {'Q', "BINPERSID"}, {'R', "REDUCE"}, {'S', "STRING"}, {'T', "BINSTRING"},
        {'U', "SHORT_BINSTRING"}, {'V', "UNICODE"}, {'X', "BINUNICODE"}, {'a', "APPEND"}, {'b', "BUILD"},
        {'c', "GLOBAL"}, {'d', "DICT"}, {'}', "EMPTY_DICT"}, {'e', "APPENDS"}, {'g', "GET"}, {'h', "BINGET"},
        {'i', "INST"}, {'j', "LONG_BINGET"}, {'l', "LIST"}, {']', "EMPTY_LIST"}, {'o', "OBJ"}, {'p', "PUT"},
        {'q', "BINPUT"}, {'r', "LONG_BINPUT"}, {'s', "SETITEM"}, {'t', "TUPLE"}, {')', "EMPTY_TUPLE"},
        {'u', "SETITEMS"}, {'G', "BINFLOAT"}, {0x80, "PROTO"}, {0x81, "NEWOBJ"}, {0x82, "EXT1"},
        {0x83, "EXT2"}, {0x84, "EXT4"}, {0x85, "TUPLE1"}, {0x86, "TUPLE2"}, {0x87, "TUPLE3"},
        {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"}, {0x8a, "LONG1"}, {0x8b, "LONG4"}, {'B', "BINBYTES"},
        {'C', "SHORT_BINBYTES"}, {0x8c, "SHORT_BINUNICODE"}, {0x8d, "BINUNICODE8"}, {0x8e, "BINBYTES8"},
        {0x8f, "EMPTY_SET"}, {0x90, "ADDITEMS"}, {0x91, "FROZENSET"}, {0x92, "NEWOBJ_EX"},
        {0x93, "STACK_GLOBAL"}, {0x94, "MEMOIZE"}, {0x95, "FRAME"}, {0x96, "BYTEARRAY8"},
        {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"},
    };
    // clang-format on
    const auto it = kNames.find(op);
    return it == kNames.end() ? "unknown" : it->second;
}

// The globals torch.save writes for plain data and tensors.
constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
constexpr const char* kOrderedDict = "collections.OrderedDict";

bool storage_dtype(const std::string& global, TorchDtype& dtype) {
    static const std::map<std::string, TorchDtype> kStorages = {
        {"torch.ByteStorage", TorchDtype::kUInt8},        {"torch.CharStorage", TorchDtype::kInt8},
        {"torch.ShortStorage", TorchDtype::kInt16},       {"torch.IntStorage", TorchDtype::kInt32},
        {"torch.LongStorage", TorchDtype::kInt64},        {"torch.HalfStorage", TorchDtype::kFloat16},
        {"torch.BFloat16Storage", TorchDtype::kBFloat16}, {"torch.FloatStorage", TorchDtype::kFloat32},
        {"torch.DoubleStorage", TorchDtype::kFloat64},    {"torch.BoolStorage", TorchDtype::kBool},
    };
    // torch < 1.12 named a CUDA tensor's storage torch.cuda.XStorage (its location says the same).
    const bool cuda = global.rfind("torch.cuda.", 0) == 0;
    const auto it = kStorages.find(cuda ? "torch." + global.substr(11) : global);
    if (it == kStorages.end()) return false;
    dtype = it->second;
    return true;
}

class Unpickler {
  public:
    Unpickler(const std::string& bytes, const std::string& source) : bytes_(bytes), source_(source) {}

    Pickle run() {
        while (true) {
            EPLB_CHECK(pos_ < bytes_.size(), source_ << ": data.pkl ends without STOP (truncated pickle)");
            op_pos_ = pos_;
            const unsigned char op = static_cast<unsigned char>(bytes_[pos_++]);
            if (op == '.') {  // STOP
                EPLB_CHECK(!stack_.empty(), at() << "STOP with an empty stack");
                out_.root = stack_.back();
                return std::move(out_);
            }
            if (!framing_opcode(op) && !scalar_opcode(op) && !container_opcode(op) && !memo_opcode(op) &&
                !object_opcode(op)) {
                EPLB_FAIL(source_ << ": data.pkl: opcode " << opcode_name(op) << " (0x" << std::hex << int{op}
                                  << std::dec << ") at byte " << op_pos_
                                  << " is not allowed: eplb reads only the dicts, lists, numbers, strings "
                                     "and tensors that torch.save writes, and runs no pickle code");
            }
        }
    }

  private:
    using Kind = PickleValue::Kind;

    // Each *_opcode runs `op` when it is one of its family's and says whether it was.

    // PROTO, FRAME, MARK: nothing pushed.
    bool framing_opcode(unsigned char op) {
        switch (op) {
            case 0x80: {  // PROTO
                const int proto = u8();
                EPLB_CHECK(proto >= 2 && proto <= 5,
                           source_ << ": data.pkl uses pickle protocol " << proto << ", expected 2 to 5");
                return true;
            }
            case 0x95:  // FRAME: a length prefix (protocol 4), the data follows inline
                take(8);
                return true;
            case '(':
                marks_.push_back(stack_.size());
                return true;
            default:
                return false;
        }
    }

    // None, booleans, integers, floats and strings.
    bool scalar_opcode(unsigned char op) {
        switch (op) {
            case 'N':
                push(make(Kind::kNone));
                return true;
            case 0x88:
            case 0x89: {
                const int id = make(Kind::kBool);
                out_.values[id].number = op == 0x88;
                push(id);
                return true;
            }
            case 'J':
                push_int(static_cast<int32_t>(uint_le(4)));
                return true;
            case 'K':
                push_int(u8());
                return true;
            case 'M':
                push_int(static_cast<int64_t>(uint_le(2)));
                return true;
            case 0x8a: {  // LONG1: n bytes of two's complement, little-endian
                const int n = u8();
                EPLB_CHECK(n <= 8, at() << "an integer of " << n << " bytes (at most 8 are supported)");
                uint64_t v = n == 0 ? 0 : uint_le(n);
                if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
                push_int(static_cast<int64_t>(v));
                return true;
            }
            case 'G': {  // BINFLOAT: big-endian IEEE double
                uint64_t bits = 0;
                const char* p = take(8);
                for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<unsigned char>(p[i]);
                const int id = make(Kind::kFloat);
                std::memcpy(&out_.values[id].real, &bits, 8);
                push(id);
                return true;
            }
            case 'X':
                push_string(static_cast<size_t>(uint_le(4)));
                return true;
            case 0x8c:
                push_string(u8());
                return true;
            case 0x8d:
                push_string(static_cast<size_t>(uint_le(8)));
                return true;
            default:
                return false;
        }
    }

    // Tuples, lists and dicts: made empty or from the stack, and filled.
    bool container_opcode(unsigned char op) {
        switch (op) {
            case ')':
                push(make(Kind::kTuple));
                return true;
            case 't': {
                const int id = make(Kind::kTuple);
                out_.values[id].items = pop_mark();
                push(id);
                return true;
            }
            case 0x85:
            case 0x86:
            case 0x87: {
                const size_t n = static_cast<size_t>(op - 0x84);
                need(n);
                const int id = make(Kind::kTuple);
                out_.values[id].items.assign(stack_.end() - static_cast<long>(n), stack_.end());
                stack_.resize(stack_.size() - n);
                push(id);
                return true;
            }
            case ']':
                push(make(Kind::kList));
                return true;
            case '}':
                push(make(Kind::kDict));
                return true;
            case 'a': {  // APPEND
                need(2);
                const int item = pop();
                container(Kind::kList, "APPEND").items.push_back(item);
                return true;
            }
            case 'e': {  // APPENDS
                std::vector<int> items = pop_mark();
                need(1);
                auto& list = container(Kind::kList, "APPENDS").items;
                list.insert(list.end(), items.begin(), items.end());
                return true;
            }
            case 's': {  // SETITEM
                need(3);
                const int value = pop(), key = pop();
                auto& dict = container(Kind::kDict, "SETITEM").items;
                dict.push_back(key);
                dict.push_back(value);
                return true;
            }
            case 'u': {  // SETITEMS
                std::vector<int> items = pop_mark();
                EPLB_CHECK(items.size() % 2 == 0, at() << "SETITEMS with an odd number of items");
                need(1);
                auto& dict = container(Kind::kDict, "SETITEMS").items;
                dict.insert(dict.end(), items.begin(), items.end());
                return true;
            }
            default:
                return false;
        }
    }

    // The memo: PUT and GET by index.
    bool memo_opcode(unsigned char op) {
        switch (op) {
            case 'q':
                memo_put(u8());
                return true;
            case 'r':
                memo_put(static_cast<uint32_t>(uint_le(4)));
                return true;
            case 0x94:
                memo_put(static_cast<uint32_t>(memo_.size()));
                return true;
            case 'h':
                memo_get(u8());
                return true;
            case 'j':
                memo_get(static_cast<uint32_t>(uint_le(4)));
                return true;
            default:
                return false;
        }
    }

    // Globals, REDUCE and persistent ids: the allowed classes and tensor storages only.
    bool object_opcode(unsigned char op) {
        switch (op) {
            case 'c': {  // GLOBAL "module\nname\n"
                const std::string module = line(), name = line();
                push_global(module + "." + name);
                return true;
            }
            case 0x93: {  // STACK_GLOBAL: module and name strings on the stack
                need(2);
                const int name = pop(), module = pop();
                EPLB_CHECK(out_.at(module).kind == Kind::kString && out_.at(name).kind == Kind::kString,
                           at() << "STACK_GLOBAL needs two strings");
                push_global(out_.at(module).text + "." + out_.at(name).text);
                return true;
            }
            case 'R':
                reduce();
                return true;
            case 'Q':
                persistent_load();
                return true;
            default:
                return false;
        }
    }

    // The prefix of a message about the opcode being run.
    std::string at() const {
        std::ostringstream out;
        out << source_ << ": data.pkl: byte " << op_pos_ << ": ";
        return out.str();
    }

    const char* take(size_t n) {
        EPLB_CHECK(n <= bytes_.size() - pos_, source_ << ": data.pkl is truncated (opcode at byte " << op_pos_
                                                      << " needs " << n << " more bytes)");
        const char* p = bytes_.data() + pos_;
        pos_ += n;
        return p;
    }
    int u8() { return static_cast<unsigned char>(*take(1)); }
    uint64_t uint_le(int n) {
        const char* p = take(static_cast<size_t>(n));
        uint64_t v = 0;
        for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
        return v;
    }
    std::string line() {
        const size_t end = bytes_.find('\n', pos_);
        EPLB_CHECK(end != std::string::npos && end - pos_ <= 256, at() << "GLOBAL without a name line");
        std::string s = bytes_.substr(pos_, end - pos_);
        pos_ = end + 1;
        return s;
    }

    int make(Kind kind) {
        out_.values.emplace_back();
        out_.values.back().kind = kind;
        return static_cast<int>(out_.values.size() - 1);
    }
    void push(int id) { stack_.push_back(id); }
    void push_int(int64_t v) {
        const int id = make(Kind::kInt);
        out_.values[id].number = v;
        push(id);
    }
    void push_string(size_t n) {
        const char* p = take(n);
        const int id = make(Kind::kString);
        out_.values[id].text.assign(p, n);
        push(id);
    }
    void push_global(const std::string& name) {
        TorchDtype dtype;
        EPLB_CHECK(
            name == kRebuildTensor || name == kOrderedDict || storage_dtype(name, dtype),
            source_ << ": data.pkl: global " << printable(name, 80) << " at byte " << op_pos_
                    << " is not allowed: eplb reads only the dicts, lists, numbers, strings and tensors "
                       "that torch.save writes, and runs no pickle code");
        const int id = make(Kind::kGlobal);
        out_.values[id].text = name;
        push(id);
    }

    // Stack elements above the innermost MARK (which is removed), or the whole stack's check.
    void need(size_t n) {
        const size_t floor = marks_.empty() ? 0 : marks_.back();
        EPLB_CHECK(stack_.size() >= floor + n, at() << "stack underflow");
    }
    int pop() {
        const int id = stack_.back();
        stack_.pop_back();
        return id;
    }
    std::vector<int> pop_mark() {
        EPLB_CHECK(!marks_.empty(), at() << "no MARK on the stack");
        const size_t mark = marks_.back();
        marks_.pop_back();
        std::vector<int> items(stack_.begin() + static_cast<long>(mark), stack_.end());
        stack_.resize(mark);
        return items;
    }
    // The container on top of the stack, which must be of `kind`.
    PickleValue& container(Kind kind, const char* op) {
        PickleValue& v = out_.values[static_cast<size_t>(stack_.back())];
        EPLB_CHECK(v.kind == kind, at() << op << " on " << describe_pickle_value(out_, stack_.back()));
        return v;
    }

    void memo_put(uint32_t index) {
        EPLB_CHECK(!stack_.empty(), at() << "memo store with an empty stack");
        memo_[index] = stack_.back();
    }
    void memo_get(uint32_t index) {
        const auto it = memo_.find(index);
        EPLB_CHECK(it != memo_.end(), at() << "memo entry " << index << " was never stored");
        push(it->second);
    }

    // REDUCE: the only calls allowed are torch's tensor rebuild and an empty OrderedDict().
    void reduce() {
        need(2);
        const int args = pop(), callable = pop();
        const PickleValue& f = out_.at(callable);
        EPLB_CHECK(f.kind == Kind::kGlobal && out_.at(args).kind == Kind::kTuple,
                   at() << "REDUCE of " << describe_pickle_value(out_, callable) << " with "
                        << describe_pickle_value(out_, args));
        const std::vector<int> a = out_.at(args).items;
        if (f.text == kOrderedDict) {
            EPLB_CHECK(a.empty(), at() << "OrderedDict with arguments (torch.save writes OrderedDict())");
            push(make(Kind::kDict));
            return;
        }
        EPLB_CHECK(f.text == kRebuildTensor,
                   at() << "REDUCE of " << f.text << " is not what torch.save writes");
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        EPLB_CHECK(a.size() == 6 || a.size() == 7,
                   at() << "_rebuild_tensor_v2 with " << a.size() << " arguments, expected 6 or 7");
        const PickleValue& storage = out_.at(a[0]);
        EPLB_CHECK(storage.kind == Kind::kStorage,
                   at() << "_rebuild_tensor_v2's storage is " << describe_pickle_value(out_, a[0]));
        TorchTensor t;
        t.storage = static_cast<int>(storage.number);
        EPLB_CHECK(out_.at(a[1]).kind == Kind::kInt,
                   at() << "tensor storage offset is " << describe_pickle_value(out_, a[1]));
        t.offset = out_.at(a[1]).number;
        t.sizes = int_tuple(a[2], "size");
        t.strides = int_tuple(a[3], "stride");
        EPLB_CHECK(t.sizes.size() == t.strides.size(), at() << "tensor size has " << t.sizes.size()
                                                            << " dimensions, stride " << t.strides.size());
        EPLB_CHECK(out_.at(a[4]).kind == Kind::kBool,
                   at() << "tensor requires_grad is " << describe_pickle_value(out_, a[4]));
        EPLB_CHECK(out_.at(a[5]).kind == Kind::kDict,
                   at() << "tensor backward_hooks is " << describe_pickle_value(out_, a[5]));
        EPLB_CHECK(a.size() == 6 || out_.at(a[6]).kind == Kind::kDict || out_.at(a[6]).kind == Kind::kNone,
                   at() << "tensor metadata is " << describe_pickle_value(out_, a[6]));
        out_.tensors.push_back(std::move(t));
        const int id = make(Kind::kTensor);
        out_.values[id].number = static_cast<int64_t>(out_.tensors.size() - 1);
        push(id);
    }

    std::vector<int64_t> int_tuple(int id, const char* what) {
        const PickleValue& v = out_.at(id);
        EPLB_CHECK(v.kind == Kind::kTuple,
                   at() << "tensor " << what << " is " << describe_pickle_value(out_, id));
        std::vector<int64_t> out;
        for (int item : v.items) {
            EPLB_CHECK(out_.at(item).kind == Kind::kInt,
                       at() << "tensor " << what << " holds " << describe_pickle_value(out_, item));
            out.push_back(out_.at(item).number);
        }
        return out;
    }

    // BINPERSID: the id ("storage", torch.XStorage, key, location, numel) names a record data/<key>.
    void persistent_load() {
        need(1);
        const int pid = pop();
        const PickleValue& t = out_.at(pid);
        const auto is = [&](size_t i, Kind kind) { return out_.at(t.items[i]).kind == kind; };
        EPLB_CHECK(t.kind == Kind::kTuple && t.items.size() == 5 && is(0, Kind::kString) &&
                       out_.at(t.items[0]).text == "storage" && is(1, Kind::kGlobal) &&
                       is(2, Kind::kString) && is(3, Kind::kString) && is(4, Kind::kInt),
                   at() << "persistent id is " << describe_pickle_value(out_, pid)
                        << ", expected (\"storage\", type, key, location, numel)");
        TorchStorage s;
        EPLB_CHECK(storage_dtype(out_.at(t.items[1]).text, s.dtype),
                   at() << "persistent id names " << out_.at(t.items[1]).text << ", not a storage type");
        s.key = out_.at(t.items[2]).text;
        s.location = out_.at(t.items[3]).text;
        s.numel = out_.at(t.items[4]).number;
        EPLB_CHECK(s.numel >= 0, at() << "storage " << printable(s.key) << " has " << s.numel << " elements");
        int index;
        const auto it = storage_of_key_.find(s.key);
        if (it != storage_of_key_.end()) {
            index = it->second;
            const TorchStorage& old = out_.storages[static_cast<size_t>(index)];
            EPLB_CHECK(
                old.dtype == s.dtype && old.numel == s.numel,
                at() << "storage " << printable(s.key) << " is named twice with different types or sizes");
        } else {
            index = static_cast<int>(out_.storages.size());
            storage_of_key_[s.key] = index;
            out_.storages.push_back(std::move(s));
        }
        const int id = make(Kind::kStorage);
        out_.values[id].number = index;
        push(id);
    }

    const std::string& bytes_;
    const std::string& source_;
    size_t pos_ = 0, op_pos_ = 0;
    Pickle out_;
    std::vector<int> stack_;
    std::vector<size_t> marks_;
    std::unordered_map<uint32_t, int> memo_;
    std::map<std::string, int> storage_of_key_;
};

}  // namespace

Pickle parse_torch_pickle(const std::string& bytes, const std::string& source) {
    return Unpickler(bytes, source).run();
}

}  // namespace eplb::io
