#pragma once
// Test helpers shared by the integration tests that run the built programs (cli_test.cc,
// store_test.cc). Header-only: only *_test.cc files in tests/integration/ are compiled.
//
//   BinDir()      the directory holding the built programs, from ctest's $SITECHAIN_BIN_DIR.
//   Contains()    substring test for assertions on program output.
//   CliRefused()  a refusal by a command line: exit 1, "[CODE]" and a text on stderr.
//   ProgramTest   a fixture base: each test gets a fresh directory (dir_), used as the working
//                 directory of every program it runs, so that relative paths in the commands
//                 are the files the test inspects; SetUp checks that devkit, store and hello are
//                 built.
//
//   class CliTest : public ProgramTest { ... };
//   ProcessResult r = Devkit({"keygen", "--out", "alice.key"});
//   EXPECT_EQ(r.exit_code, 0) << r.Describe();

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "tests/common/temp_dir.h"
#include "tests/integration/process.h"

namespace sitechain::testutil {

// The directory holding the built programs, from ctest's environment; empty if unset.
inline std::string BinDir() {
  const char* dir = std::getenv("SITECHAIN_BIN_DIR");
  return dir != nullptr ? dir : "";
}

inline bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A CLI refusal: exit 1, "[CODE]" and text on stderr.
inline ::testing::AssertionResult CliRefused(const ProcessResult& r, const std::string& code,
                                             const std::string& text) {
  if (r.exit_code == 1 && Contains(r.err, "[" + code + "]") && Contains(r.err, text)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "expected exit 1 with [" << code << "] and \"" << text << "\"\n"
         << r.Describe();
}

class ProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(BinDir().empty()) << "SITECHAIN_BIN_DIR is not set; run the tests with ctest";
    for (const char* program : {"devkit", "store", "hello"}) {
      ASSERT_TRUE(std::filesystem::exists(Bin(program)))
          << Bin(program) << " is missing; build the devkit, store and hello targets";
    }
    ASSERT_FALSE(dir_.path().empty());
  }

  static std::string Bin(const std::string& program) { return BinDir() + "/" + program; }
  std::string Path(const std::string& name) const { return dir_.Path(name); }

  // Runs a program (a path, or a name looked up in PATH) in the test directory.
  ProcessResult Run(const std::string& program, std::vector<std::string> args) const {
    args.insert(args.begin(), program);
    return RunProcess(args, dir_.path());
  }
  ProcessResult Devkit(std::vector<std::string> args) const {
    return Run(Bin("devkit"), std::move(args));
  }
  ProcessResult Store(std::vector<std::string> args) const {
    return Run(Bin("store"), std::move(args));
  }

  TempDir dir_;  // constructed first and removed last, after the derived fixture's members
};

}  // namespace sitechain::testutil
