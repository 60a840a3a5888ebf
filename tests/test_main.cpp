// The doctest main shared by the test executables (tests/doctest_run.h).
#define DOCTEST_CONFIG_IMPLEMENT
#include "tests/doctest_run.h"

int main(int argc, char** argv) { return eplb::test::run_doctest(argc, argv); }
