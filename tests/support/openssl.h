#pragma once
// Test support: running the real `openssl` binary (OpenSSL 3) as an independent witness, for the
// interop tests. The program is taken from $OPENSSL if set, else from PATH. `openssl verify` is
// run at the test's fixed time (-attime), never the wall clock, and with no system trust store.
//
//   std::vector<std::string> argv = testing::OpenSslVerifyArgv(clock.Now(), root_pem);
//   argv.push_back(testing::SavePem(leaf, dir.File("leaf.pem")));
//   testing::CommandResult r = testing::RunCommand(argv);
//   EXPECT_EQ(r.exit_code, 0) << testing::Command(argv) << "\n" << r.output;

#include <string>
#include <vector>

#include "common/clock.h"
#include "pki/certificate.h"

namespace sitechain::testing {

struct CommandResult {
  int exit_code = -1;  // 127 if the program could not be started
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv (argv[0] looked up in PATH) with stdin from /dev/null, capturing its output.
CommandResult RunCommand(const std::vector<std::string>& argv);

// The openssl program: $OPENSSL if set and not empty, else "openssl".
std::string OpenSsl();

// argv joined with spaces, for failure messages.
std::string Command(const std::vector<std::string>& argv);

// The start of an `openssl verify` command line: at `at` (-attime, whole seconds since the
// epoch), trusting only the certificates in ca_file (-no-CApath -no-CAstore). Append options and
// the certificate to verify.
std::vector<std::string> OpenSslVerifyArgv(TimePoint at, const std::string& ca_file);

// Saves cert as PEM at path (a non-fatal test failure if it cannot) and returns path.
std::string SavePem(const pki::Certificate& cert, const std::string& path);

}  // namespace sitechain::testing
