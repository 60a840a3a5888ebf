// A strict little XML reader for the tests: parses a whole document into elements and throws on
// anything malformed (unbalanced or misnested tags, unquoted or repeated attributes, a bare '&' or
// '<', unknown entities), so that a test can assert both well-formedness and structure.
#pragma once

#include <cctype>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace eplb::test {

struct XmlElement {
    std::string name;
    std::map<std::string, std::string> attrs;
    std::vector<XmlElement> children;
    std::string text;  // character data directly inside, entities decoded

    const XmlElement* child(const std::string& n) const {
        for (const XmlElement& c : children)
            if (c.name == n) return &c;
        return nullptr;
    }
    int count(const std::string& n) const {
        int k = 0;
        for (const XmlElement& c : children) k += c.name == n;
        return k;
    }
};

class XmlReader {
  public:
    explicit XmlReader(const std::string& doc) : s_(doc) {}

    XmlElement document() {
        if (s_.compare(0, 5, "<?xml") == 0) {
            const size_t end = s_.find("?>");
            if (end == std::string::npos) fail("unterminated XML declaration");
            i_ = end + 2;
        }
        skip_space();
        XmlElement root = element();
        skip_space();
        if (i_ != s_.size()) fail("content after the root element");
        return root;
    }

  private:
    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error("malformed XML at byte " + std::to_string(i_) + ": " + what);
    }
    void skip_space() {
        while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    std::string name() {
        const size_t start = i_;
        while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-' ||
                                  s_[i_] == '_' || s_[i_] == ':' || s_[i_] == '.'))
            ++i_;
        if (i_ == start) fail("expected a name");
        return s_.substr(start, i_ - start);
    }
    std::string decode(const std::string& raw) const {
        std::string out;
        for (size_t k = 0; k < raw.size(); ++k) {
            if (raw[k] == '<') throw std::runtime_error("malformed XML: '<' in text or attribute");
            if (raw[k] != '&') {
                out += raw[k];
                continue;
            }
            const size_t semi = raw.find(';', k);
            if (semi == std::string::npos) throw std::runtime_error("malformed XML: bare '&'");
            const std::string ent = raw.substr(k + 1, semi - k - 1);
            if (ent == "amp")
                out += '&';
            else if (ent == "lt")
                out += '<';
            else if (ent == "gt")
                out += '>';
            else if (ent == "quot")
                out += '"';
            else if (ent == "apos")
                out += '\'';
            else if (!ent.empty() && ent[0] == '#')
                out += static_cast<char>(std::stoi(ent.substr(1)));
            else
                throw std::runtime_error("malformed XML: unknown entity &" + ent + ";");
            k = semi;
        }
        return out;
    }
    XmlElement element() {
        if (i_ >= s_.size() || s_[i_] != '<') fail("expected '<'");
        ++i_;
        XmlElement e;
        e.name = name();
        for (;;) {
            skip_space();
            if (i_ >= s_.size()) fail("unterminated start tag");
            if (s_.compare(i_, 2, "/>") == 0) {
                i_ += 2;
                return e;
            }
            if (s_[i_] == '>') {
                ++i_;
                break;
            }
            const std::string key = name();
            if (i_ >= s_.size() || s_[i_] != '=') fail("attribute " + key + " without '='");
            ++i_;
            if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'')) fail("unquoted attribute " + key);
            const char q = s_[i_++];
            const size_t end = s_.find(q, i_);
            if (end == std::string::npos) fail("unterminated attribute " + key);
            if (!e.attrs.emplace(key, decode(s_.substr(i_, end - i_))).second)
                fail("repeated attribute " + key);
            i_ = end + 1;
        }
        for (;;) {
            const size_t lt = s_.find('<', i_);
            if (lt == std::string::npos) fail("unterminated element " + e.name);
            e.text += decode(s_.substr(i_, lt - i_));
            i_ = lt;
            if (s_.compare(i_, 2, "</") == 0) {
                i_ += 2;
                if (name() != e.name) fail("end tag does not match <" + e.name + ">");
                skip_space();
                if (i_ >= s_.size() || s_[i_] != '>') fail("unterminated end tag");
                ++i_;
                return e;
            }
            e.children.push_back(element());
        }
    }

    const std::string& s_;
    size_t i_ = 0;
};

inline XmlElement parse_xml(const std::string& doc) { return XmlReader(doc).document(); }

}  // namespace eplb::test
