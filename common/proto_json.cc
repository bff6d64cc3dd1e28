#include "common/proto_json.h"

#include <google/protobuf/util/json_util.h>

namespace sitechain {

std::string ProtoToJson(const google::protobuf::Message& message, bool pretty) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  // Printing a valid message cannot fail; an empty string would show if it ever did.
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  if (pretty && (out.empty() || out.back() != '\n')) out += '\n';
  return out;
}

}  // namespace sitechain
