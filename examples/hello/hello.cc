// A tiny service used by the demo and the tests: it greets, shows where its identity lives
// (environment variables set by nlsm) and exits.
#include <cstdlib>
#include <iostream>

int main(int argc, char** argv) {
  const char* who = argc > 1 ? argv[1] : "world";
  std::cout << "hello, " << who << "\n";
  if (const char* cert = std::getenv("SITECHAIN_CERT"))
    std::cout << "my certificate: " << cert << "\n";
  return EXIT_SUCCESS;
}
