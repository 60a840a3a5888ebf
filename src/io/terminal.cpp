// The locale check of terminal.h.
#include "io/terminal.h"

#include <langinfo.h>

#include <clocale>
#include <string>

namespace eplb::io {

bool utf8_output() {
    static const bool utf8 = [] {
        // LC_CTYPE from the environment just long enough to read its codeset; the program's own
        // locale stays "C" (number formatting in files must not change with the user's locale).
        const char* previous = std::setlocale(LC_CTYPE, nullptr);
        const std::string saved = previous ? previous : "C";
        if (!std::setlocale(LC_CTYPE, "")) return false;
        std::string codeset = nl_langinfo(CODESET);
        std::setlocale(LC_CTYPE, saved.c_str());
        for (char& c : codeset) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
        return codeset == "UTF-8" || codeset == "UTF8";
    }();
    return utf8;
}

}  // namespace eplb::io
