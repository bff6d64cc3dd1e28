#include "common/terminal_text.h"

#include <cstddef>

namespace sitechain {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

void AppendByteEscape(std::string& out, unsigned char byte) {
  out += "\\x";
  out += kHexDigits[byte >> 4];
  out += kHexDigits[byte & 0xf];
}

void AppendCodePointEscape(std::string& out, char32_t code_point) {
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHexDigits[(code_point >> shift) & 0xf];
}

// The length of the valid UTF-8 sequence at text[i], with its code point in `code_point`; 0 if
// the bytes there are not one (a stray continuation byte, a truncated sequence, an overlong
// form, a surrogate, or a code point beyond U+10FFFF).
size_t DecodeUtf8(std::string_view text, size_t i, char32_t& code_point) {
  const auto lead = static_cast<unsigned char>(text[i]);
  size_t length = 0;
  char32_t smallest = 0;
  if (lead < 0x80) {
    code_point = lead;
    return 1;
  } else if ((lead & 0xe0) == 0xc0) {
    length = 2, code_point = lead & 0x1f, smallest = 0x80;
  } else if ((lead & 0xf0) == 0xe0) {
    length = 3, code_point = lead & 0x0f, smallest = 0x800;
  } else if ((lead & 0xf8) == 0xf0) {
    length = 4, code_point = lead & 0x07, smallest = 0x10000;
  } else {
    return 0;
  }
  if (text.size() - i < length) return 0;
  for (size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xc0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3f);
  }
  if (code_point < smallest || code_point > 0x10ffff ||
      (code_point >= 0xd800 && code_point <= 0xdfff)) {
    return 0;
  }
  return length;
}

// C1 controls, and the characters that reorder or break the line a terminal shows.
bool IsInvisibleControl(char32_t c) {
  return (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
         (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0x2028 || c == 0x2029;
}

// How Escape shows what it escapes: as in a message for people, or as JSON's \u escapes.
enum class Style { kText, kTextLines, kJson };

std::string Escape(std::string_view text, Style style) {
  const bool keep_lines = style != Style::kText, json = style == Style::kJson;
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    char32_t c = 0;
    const size_t length = DecodeUtf8(text, i, c);
    if (length == 0) {
      if (json) {
        out += "\\ufffd";
      } else {
        AppendByteEscape(out, static_cast<unsigned char>(text[i]));
      }
      ++i;
      continue;
    }
    if (c < 0x20 || c == 0x7f) {
      if ((keep_lines && (c == '\n' || c == '\t')) || (json && c == '\r')) {
        out += static_cast<char>(c);
      } else if (json) {
        AppendCodePointEscape(out, c);
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c == '\r') {
        out += "\\r";
      } else {
        AppendByteEscape(out, static_cast<unsigned char>(c));
      }
    } else if (IsInvisibleControl(c)) {
      AppendCodePointEscape(out, c);
    } else {
      out.append(text.substr(i, length));
    }
    i += length;
  }
  return out;
}

}  // namespace

std::string ForTerminal(std::string_view text) { return Escape(text, Style::kText); }

std::string ForTerminalLines(std::string_view text) { return Escape(text, Style::kTextLines); }

std::string JsonForTerminal(std::string_view json) { return Escape(json, Style::kJson); }

}  // namespace sitechain
