// JUnit XML, the test-report format CI systems (GitLab, Jenkins, GitHub actions) display: one
// <testsuite> of <testcase>s, a <failure> in each failed one.
#pragma once

#include <string>
#include <vector>

namespace eplb::io {

struct JunitCase {
    std::string name;
    std::string classname;
    double seconds = 0;
    bool failed = false;
    std::string failure_message;  // one line: what failed
    std::string failure_text;     // details (the measured values)
    std::string system_out;       // what the case measured, passed or not
};

struct JunitSuite {
    std::string name;
    double seconds = 0;
    std::string timestamp;  // ISO 8601, "" to omit
    std::vector<JunitCase> cases;
};

// Escapes text for XML content and attribute values: & < > " ' as entities, and the control
// characters XML 1.0 forbids (all below 0x20 except tab, newline, carriage return) as '?'.
std::string xml_escape(const std::string& text);

// <?xml ...?><testsuites ...><testsuite name tests failures errors skipped time>...</testsuites>
std::string junit_xml(const JunitSuite& suite);

}  // namespace eplb::io
