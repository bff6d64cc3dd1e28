#pragma once
// Protobuf messages as JSON for the CLIs' --json output: field names as in the .proto
// (snake_case) and every field printed, also when it holds its default.

#include <google/protobuf/message.h>

#include <string>

namespace sitechain {

std::string ProtoToJson(const google::protobuf::Message& message, bool pretty = true);

}  // namespace sitechain
