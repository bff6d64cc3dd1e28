#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace sitechain {

// Lower-case hexadecimal, two digits a byte.
std::string HexEncode(const std::vector<uint8_t>& bytes);
std::string HexEncode(std::string_view bytes);

// Accepts upper and lower case; refuses odd lengths and non-hex characters.
Result<std::vector<uint8_t>> HexDecode(std::string_view hex);

}  // namespace sitechain
