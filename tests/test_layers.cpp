// The layering rule, read from the sources: the core (src/eplb) and I/O (src/io) include nothing
// from cuda/ or src/backends/ (nor CUDA or NCCL headers), the core nothing from io/ or cli/, and
// only src/backends/ and cuda/ ask whether CUDA or NCCL were built (no #if EPLB_HAVE_* elsewhere).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

struct LayerRule {
    const char* dir;                           // relative to the source root
    std::vector<std::string> banned_includes;  // prefixes of the included path, "..." or <...>
    bool may_test_build = false;               // whether #if EPLB_HAVE_* is allowed
};

const std::vector<LayerRule>& layer_rules() {
    static const std::vector<LayerRule> rules = {
        {"src/eplb", {"cuda", "nccl", "backends/", "io/", "cli/", "nlohmann/", "CLI/"}},
        {"src/io", {"cuda", "nccl", "backends/", "cli/"}},
        {"src/cli", {"cuda", "nccl"}},
    };
    return rules;
}

// "file:line: what" for every line of `text` (the file `name`) that breaks `rule`.
std::vector<std::string> layer_violations(const std::string& name, const std::string& text,
                                          const LayerRule& rule) {
    static const std::regex include(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
    static const std::regex build_test(R"(^\s*#\s*(if|ifdef|ifndef|elif)\b.*\bEPLB_HAVE_)");
    std::vector<std::string> found;
    std::istringstream lines(text);
    std::string line;
    for (int number = 1; std::getline(lines, line); ++number) {
        const std::string where = name + ":" + std::to_string(number) + ": ";
        std::smatch m;
        if (std::regex_search(line, m, include)) {
            const std::string path = m[1];
            for (const std::string& banned : rule.banned_includes) {
                if (path.rfind(banned, 0) == 0) {
                    found.push_back(where + "includes " + path + " (" + rule.dir + " must not include " +
                                    banned + "...)");
                }
            }
        }
        if (!rule.may_test_build && std::regex_search(line, build_test)) {
            found.push_back(where + "tests EPLB_HAVE_* (only src/backends/ and cuda/ may): " + line);
        }
    }
    return found;
}

}  // namespace

TEST_CASE("the layering check names the file and line of each breach") {
    const LayerRule& io = layer_rules()[1];
    const std::string text =
        "// #include \"cuda/in_a_comment.h\"\n"
        "#include \"cuda/nccl_shuffle.h\"\n"
        "#include <vector>\n"
        "  #  include <nccl.h>\n"
        "#include \"eplb/planner.h\"\n"
        "#if EPLB_HAVE_NCCL\n"
        "#include \"backends/backends.h\"\n";
    const std::vector<std::string> found = layer_violations("src/io/x.h", text, io);
    REQUIRE(found.size() == 4);
    CHECK(found[0] == "src/io/x.h:2: includes cuda/nccl_shuffle.h (src/io must not include cuda...)");
    CHECK(found[1] == "src/io/x.h:4: includes nccl.h (src/io must not include nccl...)");
    CHECK(found[2] ==
          "src/io/x.h:6: tests EPLB_HAVE_* (only src/backends/ and cuda/ may): #if EPLB_HAVE_NCCL");
    CHECK(found[3] == "src/io/x.h:7: includes backends/backends.h (src/io must not include backends/...)");
    // The core may include itself; I/O may include the core but the core not I/O.
    CHECK(layer_violations("src/eplb/y.h", "#include \"eplb/types.h\"\n", layer_rules()[0]).empty());
    CHECK(layer_violations("src/io/y.h", "#include \"io/npy.h\"\n", io).size() == 0);
    CHECK(layer_violations("src/eplb/y.h", "#include \"io/npy.h\"\n", layer_rules()[0]).size() == 1);
}

TEST_CASE("src/eplb, src/io and src/cli keep to their layers") {
    const char* root = std::getenv("EPLB_SOURCE_ROOT");
    REQUIRE(root);
    for (const LayerRule& rule : layer_rules()) {
        const fs::path dir = fs::path(root) / rule.dir;
        REQUIRE(fs::is_directory(dir));
        int files = 0;
        for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir)) {
            const std::string ext = entry.path().extension().string();
            if (!entry.is_regular_file() || (ext != ".h" && ext != ".cpp" && ext != ".cuh" && ext != ".cu"))
                continue;
            ++files;
            std::ifstream in(entry.path(), std::ios::binary);
            REQUIRE(in);
            const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            const std::string name = fs::relative(entry.path(), root).generic_string();
            for (const std::string& breach : layer_violations(name, text, rule)) FAIL_CHECK(breach);
        }
        INFO(rule.dir);
        CHECK(files >= 10);  // the directory was read, not an empty or wrong path
    }
}
