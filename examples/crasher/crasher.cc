// crasher: an example service that fails on purpose, for restart and crash-loop tests.
//
//   crasher [--after-ms N] [--code C] [--signal S]
//
// Prints "crasher start <monotonic ms>" to stdout and stderr, waits N ms (default 100), then exits
// with code C (default 3), or raises signal S if given.
#include <signal.h>
#include <time.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  long after_ms = 100;
  int code = 3, sig = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--after-ms") after_ms = std::atol(argv[i + 1]);
    if (a == "--code") code = std::atoi(argv[i + 1]);
    if (a == "--signal") sig = std::atoi(argv[i + 1]);
  }
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const long long now_ms = static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
  std::cout << "crasher start " << now_ms << std::endl;
  std::cerr << "crasher start " << now_ms << std::endl;
  std::this_thread::sleep_for(std::chrono::milliseconds(after_ms));
  if (sig != 0) {
    signal(sig, SIG_DFL);
    raise(sig);
  }
  std::cerr << "crasher: exiting with code " << code << std::endl;
  return code;
}
