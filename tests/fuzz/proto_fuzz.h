#pragma once
// The part every protobuf target of tests/fuzz shares: parse the message as a server would, and
// check that what was parsed serializes to bytes that parse back to the same message.

#include <optional>
#include <string>

#include "tests/fuzz/fuzz_check.h"

namespace sitechain::fuzz {

// The message parsed from the bytes, or nullopt if protobuf refuses them. Aborts (a fuzz
// finding) if the parsed message does not survive a serialize-parse round trip.
template <typename Message>
std::optional<Message> ParseMessage(const uint8_t* data, size_t size) {
  Message message;
  if (!message.ParseFromArray(data, static_cast<int>(size))) return std::nullopt;
  const std::string once = message.SerializeAsString();
  Message again;
  FUZZ_CHECK(again.ParseFromString(once), "a serialized message parses again");
  FUZZ_CHECK(again.SerializeAsString() == once, "serialization is stable");
  return message;
}

}  // namespace sitechain::fuzz
