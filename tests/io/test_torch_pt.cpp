// torch.save (.pt) reading: the restricted unpickler on hand-assembled pickles (values, memo,
// every refusal), the archive reader on the committed fixtures of tests/io/make_pt_fixtures.py
// (every dtype, strided views, torch 1.x and 2.x layouts, big-endian), and SGLang's two dump modes,
// the per-pass fold checked against values computed by hand.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "eplb/error.h"
#include "io/pickle.h"
#include "io/sglang_pt.h"
#include "io/torch_pt.h"
#include "io/trace_io.h"
#include "tests/test_util.h"

using namespace eplb;
using namespace eplb::io;
using eplb::test::error_of;
namespace fs = std::filesystem;
using Kind = PickleValue::Kind;

namespace {

std::string fixture(const std::string& name) {
    const char* root = std::getenv("EPLB_SOURCE_ROOT");
    REQUIRE(root);
    return (fs::path(root) / "tests" / "io" / "pt" / name).string();
}

std::string bytes_of(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string scratch_dir(const std::string& name) {
    const fs::path dir =
        fs::temp_directory_path() / ("eplb_torch_pt_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir.string();
}

// Pickle assembly: opcodes and their little-endian arguments.
std::string u32(uint32_t v) {
    std::string out;
    for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((v >> (8 * k)) & 0xff));
    return out;
}
std::string unicode(const std::string& s) {
    std::string out = "X";
    out.append(u32(static_cast<uint32_t>(s.size())));
    out.append(s);
    return out;
}
const std::string kProto = "\x80\x02";

}  // namespace

TEST_CASE("pickle: numbers, strings, None, bools, lists, tuples and dicts read back exactly") {
    // {"a": 5, "b": 1.5, "c": None, "d": True, "e": [300, -7, 2^40], "f": ("x", False, -1)}
    std::string p = kProto + "}(" + unicode("a") + "K\x05" + unicode("b") + "G\x3f\xf8" +
                    std::string(6, '\0') + unicode("c") + "N" + unicode("d") + "\x88" + unicode("e") +
                    "](M\x2c\x01J" + u32(static_cast<uint32_t>(-7)) + "\x8a\x06" +
                    std::string("\0\0\0\0\0\x01", 6) + "e" + unicode("f") + "\x8c\x01x\x89\x8a\x01\xff\x87u.";
    const Pickle pk = parse_torch_pickle(p, "p.pkl");
    REQUIRE(pk.at(pk.root).kind == Kind::kDict);
    CHECK(pk.at(pk.find(pk.root, "a")).number == 5);
    CHECK(pk.at(pk.find(pk.root, "b")).real == 1.5);
    CHECK(pk.at(pk.find(pk.root, "c")).kind == Kind::kNone);
    CHECK(pk.at(pk.find(pk.root, "d")).kind == Kind::kBool);
    CHECK(pk.at(pk.find(pk.root, "d")).number == 1);
    const PickleValue& e = pk.at(pk.find(pk.root, "e"));
    REQUIRE(e.kind == Kind::kList);
    REQUIRE(e.items.size() == 3);
    CHECK(pk.at(e.items[0]).number == 300);
    CHECK(pk.at(e.items[1]).number == -7);
    CHECK(pk.at(e.items[2]).number == (int64_t{1} << 40));
    const PickleValue& f = pk.at(pk.find(pk.root, "f"));
    REQUIRE(f.kind == Kind::kTuple);
    REQUIRE(f.items.size() == 3);
    CHECK(pk.at(f.items[0]).text == "x");
    CHECK(pk.at(f.items[1]).number == 0);
    CHECK(pk.at(f.items[2]).number == -1);
    CHECK(pk.find(pk.root, "missing") == -1);
    CHECK(describe_pickle_value(pk, pk.find(pk.root, "e")) == "a list of 3");
}

TEST_CASE("pickle: the memo shares objects; a list appended to after it was stored is the same list") {
    // l = []; d = {"x": l, "y": l}; then l.append(7) through the memo (BINPUT 2 ... BINGET 2).
    const std::string body = "}q\x01(" + unicode("x") + "]q\x02" + unicode("y") + "h\x02u";
    const Pickle pk = parse_torch_pickle(kProto + body +
                                             "h\x02K\x07"
                                             "ah\x01.",
                                         "m.pkl");
    const int x = pk.find(pk.root, "x"), y = pk.find(pk.root, "y");
    CHECK(x == y);
    REQUIRE(pk.at(x).items.size() == 1);
    CHECK(pk.at(pk.at(x).items[0]).number == 7);
    // POP is not something torch.save writes.
    CHECK(error_of([&] { parse_torch_pickle(kProto + body + "0.", "m.pkl"); }).find("opcode POP (0x30)") !=
          std::string::npos);
}

TEST_CASE("pickle: every opcode and global outside torch.save's plain data is refused, naming it") {
    const auto refusal = [](const std::string& bytes) {
        return error_of([&] { parse_torch_pickle(bytes, "evil.pkl"); });
    };
    CHECK(refusal(kProto + "cos\nsystem\n" + unicode("ls") + "\x85R.") ==
          "evil.pkl: data.pkl: global os.system at byte 2 is not allowed: eplb reads only the dicts, lists, "
          "numbers, "
          "strings and tensors that torch.save writes, and runs no pickle code");
    CHECK(refusal(kProto + "\x8c\x08"
                           "builtins"
                           "\x8c\x04"
                           "eval\x93.")
              .find("global builtins.eval at byte 18") != std::string::npos);
    CHECK(refusal(kProto + "(ios\nsystem\n.").find("opcode INST (0x69) at byte 3 is not allowed") !=
          std::string::npos);
    CHECK(refusal(kProto + "}}b.").find("opcode BUILD (0x62) at byte 4") != std::string::npos);
    CHECK(refusal(kProto + "ccollections\nOrderedDict\n)\x81.").find("opcode NEWOBJ (0x81)") !=
          std::string::npos);
    CHECK(refusal(kProto + "S'x'\n.").find("opcode STRING (0x53)") != std::string::npos);
    CHECK(refusal(kProto + "\x82\x01.").find("opcode EXT1 (0x82)") != std::string::npos);
    CHECK(refusal(kProto + "\xff.").find("opcode unknown (0xff)") != std::string::npos);
    // Allowed globals used other than torch.save uses them.
    CHECK(refusal(kProto + "ccollections\nOrderedDict\n]\x85R.").find("OrderedDict with arguments") !=
          std::string::npos);
    CHECK(refusal(kProto + "ctorch\nIntStorage\n)R.")
              .find("REDUCE of torch.IntStorage is not what torch.save writes") != std::string::npos);
    CHECK(refusal(kProto + "ctorch._utils\n_rebuild_tensor_v2\n)R.")
              .find("with 0 arguments, expected 6 or 7") != std::string::npos);
    CHECK(refusal(kProto + "ctorch.cuda\nFloatStorage\n)R.").find("REDUCE of torch.cuda.FloatStorage") !=
          std::string::npos);  // an allowed global (old torch's CUDA storages), not callable
    CHECK(refusal(kProto + "ctorch.cuda\nStream\n.")
              .find("global torch.cuda.Stream at byte 2 is not allowed") != std::string::npos);
    CHECK(refusal(kProto + unicode("x") + "Q.").find("persistent id is the string \"x\"") !=
          std::string::npos);
    // Malformed pickles.
    CHECK(refusal(kProto + "}").find("ends without STOP") != std::string::npos);
    CHECK(refusal(kProto + "X\xff\xff\xff\x7f").find("truncated") != std::string::npos);
    CHECK(refusal(kProto + "h\x05.").find("memo entry 5 was never stored") != std::string::npos);
    CHECK(refusal(kProto + "a.").find("stack underflow") != std::string::npos);
    CHECK(refusal(kProto + "K\x01K\x02s.").find("SETITEM on the integer 1") == std::string::npos);
    CHECK(refusal(kProto + "K\x01K\x02K\x03s.").find("SETITEM on the integer 1") != std::string::npos);
    CHECK(refusal("\x80\x01.").find("pickle protocol 1") != std::string::npos);
}

TEST_CASE("torch archive: stat.pt's pickle, storage and tensor as torch 1.13 wrote them") {
    const TorchArchive a = TorchArchive::open_file(fixture("stat.pt"));
    const Pickle& p = a.pickle();
    CHECK_FALSE(a.big_endian());
    CHECK(p.at(p.find(p.root, "rank")).number == 0);
    CHECK(p.at(p.find(p.root, "average_utilization_rate_over_window")).kind == Kind::kNone);
    const int id = p.find(p.root, "logical_count");
    REQUIRE(p.at(id).kind == Kind::kTensor);
    const TorchTensor& t = p.tensors[static_cast<size_t>(p.at(id).number)];
    CHECK(t.sizes == std::vector<int64_t>{3, 4, 8});
    CHECK(t.strides == std::vector<int64_t>{32, 8, 1});
    CHECK(t.offset == 0);
    REQUIRE(p.storages.size() == 1);
    CHECK(p.storages[0].dtype == TorchDtype::kInt32);
    CHECK(p.storages[0].key == "0");
    CHECK(p.storages[0].location == "cpu");
    CHECK(p.storages[0].numel == 96);
    CHECK(describe_pickle_value(p, id) == "an int32 tensor [3][4][8]");
    // (t * 37 + l * 11 + e * 5) % 61, as the fixture script writes them.
    std::vector<float> values(96);
    a.read_floats(static_cast<int>(p.at(id).number), "logical_count", values.data());
    for (int s = 0; s < 3; ++s)
        for (int l = 0; l < 4; ++l)
            for (int e = 0; e < 8; ++e)
                CHECK(values[(s * 4 + l) * 8 + e] == static_cast<float>((s * 37 + l * 11 + e * 5) % 61));
    const std::vector<int64_t> ints = a.read_ints(static_cast<int>(p.at(id).number), "logical_count");
    CHECK(ints[95] == (2 * 37 + 3 * 11 + 7 * 5) % 61);

    const TorchArchive b = TorchArchive::open_file(fixture("stat_int64.pt"));
    CHECK(b.pickle().at(b.pickle().find(b.pickle().root, "average_utilization_rate_over_window")).real ==
          0.875);
    CHECK(b.pickle().storages[0].dtype == TorchDtype::kInt64);
    CHECK(TorchArchive::open_file(fixture("stat_float64_big_endian.pt")).big_endian());
}

TEST_CASE("torch archive: every dtype, strided views, torch 2.x and big-endian read the same values") {
    const LoadTrace ints = read_trace(fixture("stat.json"));
    const LoadTrace quarters = read_trace(fixture("stat_quarters.json"));
    for (const char* name : {"stat.pt", "stat_int64.pt", "stat_strided.pt", "stat_torch2.pt"}) {
        INFO(name);
        const LoadTrace t = read_sglang_pt(fixture(name));
        CHECK(t.num_steps == 3);
        CHECK(t.num_layers == 4);
        CHECK(t.num_experts == 8);
        CHECK(t.layer_ids == std::vector<int>{0, 1, 2, 3});
        CHECK(t.values == ints.values);
    }
    for (const char* name : {"stat_float32.pt", "stat_float64.pt", "stat_bfloat16.pt", "stat_float16.pt",
                             "stat_float64_big_endian.pt"}) {
        INFO(name);
        CHECK(read_sglang_pt(fixture(name)).values == quarters.values);
    }
    // The strided fixture: a transposed slice of a wider storage, offset 1.
    const TorchArchive s = TorchArchive::open_file(fixture("stat_strided.pt"));
    const TorchTensor& t = s.pickle().tensors[0];
    CHECK(t.offset == 1);
    CHECK(t.strides == std::vector<int64_t>{40, 1, 5});
    // In memory as from a file.
    CHECK(parse_sglang_pt(bytes_of(fixture("stat_torch2.pt")), "mem.pt").values == ints.values);
}

TEST_CASE("SGLang per_pass: ranks summed per forward pass, slots folded by the map (by hand)") {
    // map [[0,1,2,3,0,1],[3,2,1,0,3,3]]; rank 0 passes 0, 1; rank 1 passes 1, 0, 3 (see the script).
    const LoadTrace t = read_sglang_pt(fixture("per_pass"));
    CHECK(t.num_steps == 3);  // forward passes 0, 1, 3
    CHECK(t.num_layers == 2);
    CHECK(t.num_experts == 4);
    CHECK(t.layer_ids == std::vector<int>{0, 1});
    // pass 0: layer 0 slots [11,2,3,4,15,6] -> e0 = 11+15, e1 = 2+6, e2 = 3, e3 = 4;
    //         layer 1 slots [1,1,0,1,0,1] -> e0 = s3, e1 = s2, e2 = s1, e3 = s0+s4+s5.
    // pass 1: layer 0 [3,1,1,1,2,1]; layer 1 [4,4,11,4,4,6].  pass 3: [0,0,0,9,0,0]; [0,0,0,0,0,5].
    const std::vector<float> expected = {26, 8, 3, 4, 1, 0,  1, 2,   //
                                         5,  2, 1, 1, 4, 11, 4, 14,  //
                                         0,  0, 0, 9, 0, 0,  0, 5};
    CHECK(t.values == expected);
    CHECK(read_trace(fixture("per_pass.json")).values == expected);  // torch's scatter_add, as SGLang folds
    CHECK(read_trace(fixture("per_pass")).values == expected);       // read_trace: a directory of .pt files
    // One rank's file alone: its own records (pass 0 of rank 0: layer 0 [6,8,3,4], layer 1 [1,0,1,1]).
    const LoadTrace one = read_sglang_pt(fixture("per_pass/expert_distribution_recorder_1700000000.5_0.pt"));
    CHECK(one.num_steps == 2);
    CHECK(std::vector<float>(one.values.begin(), one.values.begin() + 8) ==
          std::vector<float>{6, 8, 3, 4, 1, 0, 1, 1});
}

TEST_CASE(
    "SGLang dumps: directories and dispatch; a pass recorded twice or a stat file among ranks is refused") {
    CHECK(is_sglang_dump_dir(fixture("per_pass")));
    // Other .pt files do not make a directory SGLang's: TensorRT-LLM's reader says what it lacks.
    CHECK_FALSE(is_sglang_dump_dir(fixture("")));
    CHECK(error_of([&] { read_trace(fixture("")); }).find("but it has no meta_info.json") !=
          std::string::npos);
    const std::string rank0 = fixture("per_pass/expert_distribution_recorder_1700000000.5_0.pt");
    const std::string twice = scratch_dir("twice");
    fs::copy_file(rank0, twice + "/expert_distribution_recorder_1_0.pt");
    fs::copy_file(rank0, twice + "/expert_distribution_recorder_2_0.pt");
    CHECK(error_of([&] { read_trace(twice); }) ==
          twice +
              "/expert_distribution_recorder_2_0.pt: records[0]: forward pass 0 of rank 0 is recorded twice");
    const std::string mixed = scratch_dir("mixed");
    fs::copy_file(rank0, mixed + "/expert_distribution_recorder_1_0.pt");
    fs::copy_file(fixture("stat.pt"), mixed + "/stat.pt");
    CHECK(error_of([&] {
              read_trace(mixed);
          }).rfind(mixed + "/stat.pt: a stat-mode dump (\"logical_count\") in a directory", 0) == 0);
    // A directory with meta_info.json stays TensorRT-LLM statistics, even beside .pt files.
    std::ofstream(mixed + "/meta_info.json") << "{}";
    CHECK_FALSE(is_sglang_dump_dir(mixed));
    // A .pt dump under another name is recognised by its zip header.
    const std::string renamed = scratch_dir("renamed") + "/dump.json";
    fs::copy_file(fixture("stat.pt"), renamed);
    CHECK(read_trace(renamed).values == read_trace(fixture("stat.json")).values);
    CHECK(looks_like_torch_file(renamed));
    CHECK_FALSE(looks_like_torch_file(fixture("stat.json")));
    fs::remove_all(fs::path(twice));
    fs::remove_all(fs::path(mixed));
    fs::remove_all(fs::path(renamed).parent_path());
}

TEST_CASE("torch archive: archives that are not torch.save files") {
    CHECK(error_of([] {
              TorchArchive::open_bytes("{\"logical_count\": []}", "x.pt");
          }).rfind("x.pt: not a torch.save file (expected a zip archive", 0) == 0);
    const std::string stat = bytes_of(fixture("stat.pt"));
    CHECK(error_of([&] {
              TorchArchive::open_bytes(stat.substr(0, stat.size() / 2), "half.pt");
          }).rfind("half.pt: not a readable zip archive", 0) == 0);
    // Cut inside the central directory's last record: libzip sees the damage.
    CHECK(error_of([&] {
              TorchArchive::open_bytes(stat.substr(0, stat.size() - 3), "cut.pt");
          }).rfind("cut.pt: ", 0) == 0);
}

TEST_CASE("SglangStepReader: stat dumps streamed step by step equal the trace; others are read whole") {
    const LoadTrace whole = read_trace(fixture("stat.json"));
    for (const char* name : {"stat.pt", "stat_torch2.pt", "stat_int64.pt"}) {
        INFO(name);
        const auto reader = SglangStepReader::open(fixture(name));
        REQUIRE(reader);
        CHECK(reader->num_steps() == 3);
        CHECK(reader->num_layers() == 4);
        CHECK(reader->num_experts() == 8);
        std::vector<float> step(32);
        for (int t = 2; t >= 0; --t) {  // any order
            reader->load_step(t, step.data());
            CHECK(std::vector<float>(step) ==
                  std::vector<float>(whole.step_data(t), whole.step_data(t) + 32));
        }
    }
    // Rows 1..2 of steps 1..2.
    const auto part = SglangStepReader::open(fixture("stat_float64_big_endian.pt"), Range{1, 3}, Range{1, 3});
    REQUIRE(part);
    CHECK(part->num_steps() == 2);
    CHECK(part->layer_ids() == std::vector<int>{1, 2});
    const LoadTrace quarters = read_trace(fixture("stat_quarters.json"));
    std::vector<float> rows(16);
    part->load_step(1, rows.data());
    CHECK(rows == std::vector<float>(quarters.step_data(2) + 8, quarters.step_data(2) + 24));
    CHECK(error_of([&] { part->load_step(2, rows.data()); }).find("step 2 is outside [0, 2)") !=
          std::string::npos);
    CHECK(error_of([] {
              SglangStepReader::open(fixture("stat.pt"), Range{2, 9});
          }).find("--layers 2:9 is outside the trace's layers 0:4") != std::string::npos);
    CHECK_FALSE(SglangStepReader::open(fixture("stat_strided.pt")));  // a view: read whole
    CHECK_FALSE(SglangStepReader::open(fixture("per_pass")));
    CHECK_FALSE(SglangStepReader::open(fixture("per_pass/expert_distribution_recorder_1700000000.5_0.pt")));
}
