#pragma once
// Bench support: the main of every benchmark program in bench/, around the parts that are its
// own (its fixtures, its benchmarks, its summary).
//
//   RunBenchmarks<Reporter>(argc, argv, setup)
//     1. notes whether argv asks for a format other than the console's (--benchmark_format=json
//        or csv): the summary needs the console format, so then the library's own reporter runs
//        alone;
//     2. benchmark::Initialize, and EXIT_FAILURE if an argument is left that it does not know
//        (benchmark::ReportUnrecognizedArguments has said which);
//     3. setup(run): the program's own part. It makes what the benchmarks need, registers them and
//        calls run(), which runs them through a Reporter (a benchmark::ConsoleReporter that prints
//        a summary after the table; colours when stdout is a terminal) or, for json and csv,
//        through the library's reporter, and returns EXIT_SUCCESS. Whatever setup owns lives
//        across the run and is gone when setup returns. setup returns run()'s status, or another
//        exit status, having said why on stderr, to end the program without running anything;
//     4. benchmark::Shutdown, after setup has returned EXIT_SUCCESS.
//
//   int RunPkiBenchmarks(int argc, char** argv) {
//     return bench::RunBenchmarks<SummaryReporter>(argc, argv, [](const bench::Run& run) {
//       Fixtures fixtures;
//       RegisterBenchmarks(&fixtures);
//       return run();
//     });
//   }
//
// Header only.

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <concepts>
#include <cstdlib>
#include <functional>
#include <string_view>

namespace sitechain::bench {

// Runs the registered benchmarks and returns EXIT_SUCCESS.
using Run = std::function<int()>;

// False when argv asks for another output format than the console's (--benchmark_format=json or
// csv). Read before benchmark::Initialize, which takes the flag out of argv.
inline bool ConsoleFormat(int argc, char** argv) {
  bool console = true;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--benchmark_format=") && arg != "--benchmark_format=console") {
      console = false;
    }
  }
  return console;
}

// See the top of this file. Returns the program's exit status.
template <typename Reporter>
requires std::derived_from<Reporter, benchmark::ConsoleReporter>
int RunBenchmarks(int argc, char** argv, const std::function<int(const Run& run)>& setup) {
  const bool console = ConsoleFormat(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return EXIT_FAILURE;
  const Run run = [console] {
    if (console) {
      Reporter reporter(isatty(STDOUT_FILENO) ? benchmark::ConsoleReporter::OO_Color
                                              : benchmark::ConsoleReporter::OO_None);
      benchmark::RunSpecifiedBenchmarks(&reporter);
    } else {
      benchmark::RunSpecifiedBenchmarks();
    }
    return EXIT_SUCCESS;
  };
  if (const int status = setup(run); status != EXIT_SUCCESS) return status;
  benchmark::Shutdown();
  return EXIT_SUCCESS;
}

}  // namespace sitechain::bench
