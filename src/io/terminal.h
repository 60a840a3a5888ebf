// What the terminal can show: UTF-8 glyphs only when the locale says UTF-8 (LC_ALL, LC_CTYPE, LANG),
// plain ASCII otherwise. Every renderer with a non-ASCII character asks here.
#pragma once

namespace eplb::io {

// Whether the locale's character set (nl_langinfo(CODESET) after setlocale from the environment)
// is UTF-8. Decided once per process.
bool utf8_output();

// `utf8` when utf8_output(), else `ascii`.
inline const char* glyph(const char* utf8, const char* ascii) { return utf8_output() ? utf8 : ascii; }

}  // namespace eplb::io
