// echo-service: a long-running example service for the demo and the tests. It prints who it is
// (its SITECHAIN_* identity variables and the policy file SITECHAIN_POLICY_FILE names), then
// serves: a heartbeat line every second until SIGTERM, on which it exits 0. Each SIGHUP (the
// sitePolicy's "renewal_signal") is reported as "got SIGHUP <n>".
//
//   echo-service [--heartbeat-ms N] [--exit-after-ms N] [--exit-code C] [--ignore-term]
//                [--print-env] [--print-fds] [--child-pid-file F] [ARG...]
//
//   --heartbeat-ms N    the heartbeat period (default 1000)
//   --exit-after-ms N   exit with --exit-code (default 0) after N ms instead of serving forever
//   --ignore-term       report SIGTERM and keep going (only SIGKILL ends it)
//   --print-env         print the whole environment, not only SITECHAIN_*
//   --print-fds         print the open descriptors and what stdin is
//   --child-pid-file F  start a child (a copy of this program, in the same process group) and
//                       write its pid to F
// Every other argument is printed as "arg: <value>". Output is flushed line by line.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

volatile sig_atomic_t g_term = 0;
volatile sig_atomic_t g_hups = 0;
void OnTerm(int) { g_term = 1; }
void OnHup(int) { g_hups = g_hups + 1; }

void PrintFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  std::vector<int> fds;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const int fd = std::atoi(e->d_name);
    if (fd != dirfd(dir)) fds.push_back(fd);
  }
  closedir(dir);
  std::sort(fds.begin(), fds.end());
  std::cout << "fds:";
  for (int fd : fds) std::cout << " " << fd;
  std::cout << "\n";
  char target[256] = {};
  const ssize_t n = readlink("/proc/self/fd/0", target, sizeof target - 1);
  std::cout << "stdin: " << (n > 0 ? std::string(target, static_cast<size_t>(n)) : "?") << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  long heartbeat_ms = 1000, exit_after_ms = -1;
  int exit_code = 0;
  bool ignore_term = false, print_env = false, print_fds = false;
  std::string child_pid_file;
  std::vector<std::string> rest;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--heartbeat-ms" && has_value) {
      heartbeat_ms = std::atol(argv[++i]);
    } else if (a == "--exit-after-ms" && has_value) {
      exit_after_ms = std::atol(argv[++i]);
    } else if (a == "--exit-code" && has_value) {
      exit_code = std::atoi(argv[++i]);
    } else if (a == "--child-pid-file" && has_value) {
      child_pid_file = argv[++i];
    } else if (a == "--ignore-term") {
      ignore_term = true;
    } else if (a == "--print-env") {
      print_env = true;
    } else if (a == "--print-fds") {
      print_fds = true;
    } else {
      rest.push_back(a);
    }
  }
  std::cout << std::unitbuf;
  struct sigaction sa {};
  sa.sa_handler = OnTerm;
  sigaction(SIGTERM, &sa, nullptr);
  struct sigaction hup {};
  hup.sa_handler = OnHup;
  sigaction(SIGHUP, &hup, nullptr);

  std::cout << "echo-service pid=" << getpid() << " pgid=" << getpgrp() << "\n";
  std::cout << "argv0: " << argv[0] << "\n";
  for (const auto& a : rest) std::cout << "arg: " << a << "\n";
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  std::sort(env.begin(), env.end());
  for (const auto& e : env) {
    if (print_env || e.rfind("SITECHAIN_", 0) == 0) std::cout << "env: " << e << "\n";
  }
  if (const char* policy = std::getenv("SITECHAIN_POLICY_FILE")) {
    std::ifstream in(policy);
    std::cout << "policy: "
              << std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>())
              << "\n";
  }
  if (print_fds) PrintFds();
  if (!child_pid_file.empty()) {
    const pid_t child = fork();
    if (child == 0) {
      execl("/proc/self/exe", "echo-service-child", "--heartbeat-ms", "100000", "--ignore-term",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    std::ofstream(child_pid_file) << child << "\n";
  }
  std::cout << "ready\n";

  const auto start = std::chrono::steady_clock::now();
  auto next_beat = start + std::chrono::milliseconds(heartbeat_ms);
  long beats = 0;
  bool reported_term = false;
  sig_atomic_t reported_hups = 0;
  while (true) {
    while (reported_hups < g_hups) std::cout << "got SIGHUP " << ++reported_hups << "\n";
    if (g_term && !reported_term) {
      reported_term = true;
      std::cout << (ignore_term ? "got SIGTERM, ignoring it\n" : "got SIGTERM, exiting\n");
      if (!ignore_term) return EXIT_SUCCESS;
    }
    const auto now = std::chrono::steady_clock::now();
    if (exit_after_ms >= 0 && now - start >= std::chrono::milliseconds(exit_after_ms)) {
      std::cout << "exiting with code " << exit_code << "\n";
      return exit_code;
    }
    if (now >= next_beat) {
      std::cout << "heartbeat " << ++beats << "\n";
      next_beat += std::chrono::milliseconds(heartbeat_ms);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}
