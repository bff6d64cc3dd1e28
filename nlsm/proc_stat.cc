#include "nlsm/proc_stat.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "common/files.h"

namespace sitechain::nlsm {

Result<ProcStat> ReadProcStat(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  auto text = ReadSmallFile(path, 4096);
  if (!text.ok()) return NotFound("no process " + std::to_string(pid));
  // "pid (comm) state ppid ..." where comm may hold spaces and parentheses: parse after the
  // last ')'. starttime is field 22, the 20th after comm.
  const size_t close = text->rfind(')');
  if (close == std::string::npos) return DataLoss("malformed " + path);
  std::string_view rest = std::string_view(*text).substr(close + 1);
  std::vector<std::string_view> fields;
  while (!rest.empty() && fields.size() < 20) {
    rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
    const size_t end = std::min(rest.find(' '), rest.size());
    if (end > 0) fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  if (fields.size() < 20 || fields[0].size() != 1) return DataLoss("malformed " + path);
  ProcStat st;
  st.state = fields[0][0];
  const auto f = fields[19];
  if (std::from_chars(f.data(), f.data() + f.size(), st.start_time).ec != std::errc()) {
    return DataLoss("malformed " + path);
  }
  return st;
}

bool IsDeadState(char state) { return state == 'Z' || state == 'X' || state == 'x'; }

Result<uint64_t> ProcessStartTime(pid_t pid) {
  if (pid <= 0) return NotFound("no process " + std::to_string(pid));
  SITECHAIN_ASSIGN_OR_RETURN(ProcStat st, ReadProcStat(pid));
  if (IsDeadState(st.state)) return NotFound("process " + std::to_string(pid) + " has exited");
  return st.start_time;
}

}  // namespace sitechain::nlsm
