// JUnit XML writer (see junit.h).
#include "io/junit.h"

#include <cstdio>

namespace eplb::io {

namespace {
std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", s < 0 ? 0.0 : s);
    return buf;
}
}  // namespace

std::string xml_escape(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const unsigned char c = static_cast<unsigned char>(ch);
        switch (ch) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&apos;";
                break;
            default:
                if (c < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') {
                    out += '?';
                } else {
                    out += ch;
                }
        }
    }
    return out;
}

std::string junit_xml(const JunitSuite& suite) {
    int failures = 0;
    for (const JunitCase& c : suite.cases) failures += c.failed ? 1 : 0;
    const std::string counts = " tests=\"" + std::to_string(suite.cases.size()) + "\" failures=\"" +
                               std::to_string(failures) + "\" errors=\"0\"";
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    out += "<testsuites name=\"" + xml_escape(suite.name) + "\"" + counts + " time=\"" +
           seconds_text(suite.seconds) + "\">\n";
    out += "  <testsuite name=\"" + xml_escape(suite.name) + "\"" + counts + " skipped=\"0\" time=\"" +
           seconds_text(suite.seconds) + "\"";
    if (!suite.timestamp.empty()) out += " timestamp=\"" + xml_escape(suite.timestamp) + "\"";
    out += ">\n";
    for (const JunitCase& c : suite.cases) {
        out += "    <testcase name=\"" + xml_escape(c.name) + "\" classname=\"" + xml_escape(c.classname) +
               "\" time=\"" + seconds_text(c.seconds) + "\">\n";
        if (c.failed) {
            out += "      <failure message=\"" + xml_escape(c.failure_message) + "\" type=\"threshold\">" +
                   xml_escape(c.failure_text) + "</failure>\n";
        }
        if (!c.system_out.empty()) out += "      <system-out>" + xml_escape(c.system_out) + "</system-out>\n";
        out += "    </testcase>\n";
    }
    out += "  </testsuite>\n</testsuites>\n";
    return out;
}

}  // namespace eplb::io
