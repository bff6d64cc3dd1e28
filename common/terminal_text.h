#pragma once
// Text from peers, made safe to print on an operator's terminal.
//
// Strings that another party chose (a node's instance state and detail, a developer's name, a
// revocation reason, a refusal message a server sent) reach the admin commands' text output.
// Printed raw, an ESC or C1 control sequence in them is executed by the terminal: it can clear the
// screen, rewrite the lines above, set the window title, or on some terminals write to files or
// the clipboard. Every CLI therefore passes such strings through ForTerminal before printing
// them, status messages through ForTerminalLines, and --json output through JsonForTerminal.
//
// What is escaped (everything else, including any other UTF-8, is kept as it is):
//   C0 controls U+0000-U+001F and DEL U+007F   as \xHH (\t \n \r as themselves: "\t" "\n" "\r")
//   C1 controls U+0080-U+009F                  as \uHHHH
//   bidirectional controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and the line
//   and paragraph separators U+2028, U+2029    as \uHHHH (they reorder or break the line shown)
//   a byte that is not part of valid UTF-8     as \xHH (overlong forms, surrogates, beyond
//                                              U+10FFFF and truncated sequences included)
// A backslash is kept: "\x1b" typed by a peer prints as the same six characters as an escaped
// ESC, which can mislead a reader but cannot drive the terminal.
//
// Pure functions, thread-safe.

#include <string>
#include <string_view>

namespace sitechain {

// One field of a line (a name, a state, a reason): every control character escaped, so that the
// field stays on its line and in its column.
std::string ForTerminal(std::string_view text);

// Text of several lines that embeds peers' strings (a refusal message, a certificate dump): the
// same, but line feeds and tabs are kept.
std::string ForTerminalLines(std::string_view text);

// JSON text (a --json output) made safe the same way while staying the same JSON: what JSON lets
// through raw (DEL, C1, bidirectional controls and line separators: protobuf's printer escapes
// all but the bidirectional isolates U+2066-U+2069, nlohmann's without ensure_ascii none) becomes
// \uHHHH, which can only stand inside a string, where it means the same character; a byte that is
// not UTF-8 becomes \ufffd (U+FFFD). Line feeds, tabs and returns are kept: JSON's whitespace.
std::string JsonForTerminal(std::string_view json);

}  // namespace sitechain
