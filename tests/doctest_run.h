// Runs doctest for a test executable's main (tests/test_main.cpp, tests/cuda/gpu_test_main.cpp). A
// suite's files share one executable and each meson test selects its files with --source-file, so
// filters that select no test case are an error (a misspelt file name would pass with nothing run).
// Include it in the one file that defines main, after #define DOCTEST_CONFIG_IMPLEMENT.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>

namespace eplb::test {

inline unsigned g_selected_test_cases = 0;

// Records how many test cases passed the filters; reports nothing.
struct SelectedCount : doctest::IReporter {
    explicit SelectedCount(const doctest::ContextOptions&) {}
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats& stats) override {
        g_selected_test_cases = stats.numTestCasesPassingFilters;
    }
    void test_case_start(const doctest::TestCaseData&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
};

REGISTER_LISTENER("selected_count", 1, SelectedCount);

// doctest's run over the command line's filters; 1 when they select no test case.
inline int run_doctest(int argc, char** argv) {
    doctest::Context context(argc, argv);
    const int status = context.run();
    if (context.shouldExit() || status != 0) return status;
    if (g_selected_test_cases == 0) {
        std::fprintf(stderr, "no test case matches the filters given\n");
        return 1;
    }
    return 0;
}

}  // namespace eplb::test
