#pragma once
// The node manager's command line: `nlsm enroll` (EnrollNode), `nlsm check` (FetchAndVerify,
// offline verification without running), `nlsm serve` (NodeDaemon until SIGINT or SIGTERM,
// server/serve_loop.h) and `nlsm status` (the admin socket of a running `nlsm serve`). main.cc
// makes the Commands, parses and hands over.
//
// Commands adds its subcommands to the CLI::App given to its constructor, which must outlive it;
// the options are bound to its members, so it is neither copied nor moved. Not thread-safe (main
// only). Run returns the process exit code (common/cli.h) after printing any error to stderr.

#include <CLI/CLI.hpp>
#include <string>

#include "common/cli.h"
#include "nlsm/grpc_site_client.h"

namespace sitechain::nlsm {

class Commands final {
 public:
  explicit Commands(CLI::App& app);
  Commands(const Commands&) = delete;
  Commands& operator=(const Commands&) = delete;

  // Runs the subcommand that was given.
  int Run();

 private:
  int Enroll();
  int Check();
  int Serve();
  int ShowStatus();

  EnrollOptions enroll_;
  TokenOption enroll_token_;  // --token-file or --token, into enroll_.token
  std::string dir_, service_, config_path_, socket_;
  bool json_ = false;
  CLI::App* enroll_cmd_ = nullptr;
  CLI::App* check_cmd_ = nullptr;
  CLI::App* serve_cmd_ = nullptr;
  CLI::App* status_cmd_ = nullptr;
};

}  // namespace sitechain::nlsm
