#pragma once
// Test helper for the integration tests: runs a program with arguments in a given directory,
// captures its stdout and stderr and returns its exit code. Header-only (only *_test.cc files
// in tests/integration/ are compiled).
//
//   ProcessResult r = RunProcess({"/path/to/devkit", "keygen", "--out", "k.pem"}, dir);
//   EXPECT_EQ(r.exit_code, 0) << r.Describe();
//
// Uses posix_spawnp (PATH lookup for names without a '/'), pipes for both outputs drained with
// poll() so that neither can fill up and block the child, and a deadline after which the child
// is killed so that a hanging program fails the test instead of hanging the suite.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

extern char** environ;

namespace sitechain::testutil {

struct ProcessResult {
  // The exit status; 128 + signal if the child was killed by a signal; -1 if it could not be
  // started (spawn_error says why).
  int exit_code = -1;
  std::string out;          // everything written to stdout
  std::string err;          // everything written to stderr
  bool timed_out = false;   // the deadline passed and the child was killed
  std::string spawn_error;  // non-empty if the program could not be started
  std::string command;      // the argv, space-separated, for messages

  // "command -> exit N\nstdout:\n...\nstderr:\n..." for assertion messages.
  std::string Describe() const {
    std::string s = "$ " + command + "\n-> exit " + std::to_string(exit_code);
    if (timed_out) s += " (killed after the deadline)";
    if (!spawn_error.empty()) s += " (spawn failed: " + spawn_error + ")";
    s += "\n--- stdout:\n" + out + "--- stderr:\n" + err;
    return s;
  }
};

// Runs argv[0] with argv in directory cwd (empty: the current one), with the test's
// environment and stdin from /dev/null. Waits at most `deadline` for it to finish.
inline ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& cwd = "",
                                std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  ProcessResult result;
  for (const auto& a : argv) result.command += (result.command.empty() ? "" : " ") + a;
  if (argv.empty()) {
    result.spawn_error = "empty argv";
    return result;
  }
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.spawn_error = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.spawn_error = std::string("pipe: ") + std::strerror(errno);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return result;
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    result.spawn_error = std::strerror(rc);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return result;
  }

  // Drain both pipes until both are closed or the deadline passes.
  const auto end = std::chrono::steady_clock::now() + deadline;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    const int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0) {
      if (errno == EINTR) continue;
      ::kill(pid, SIGKILL);
      result.spawn_error = std::string("poll: ") + std::strerror(errno);
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;  // poll ignores negative descriptors
        --open_fds;
      }
    }
  }
  for (auto& fd : fds) {
    if (fd.fd >= 0) ::close(fd.fd);
  }

  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  }
  return result;
}

}  // namespace sitechain::testutil
