# Helpers that give every sitechain target the same flags.
#
#   sitechain_library(NAME SOURCES ... DEPS ...)     static library rooted at the repo top
#   sitechain_executable(NAME SOURCES ... DEPS ...)  program
#   sitechain_test(NAME SOURCES ... DEPS ... [SHARDS suffix filter ...])
#                                                    GoogleTest program registered with ctest,
#                                                    once, or once per (suffix, gtest filter)
#                                                    pair as NAME_suffix so ctest -j runs the
#                                                    shards side by side

set(SITECHAIN_WARNINGS -Wall -Wextra -Werror -Wpedantic -Wshadow -Wnon-virtual-dtor)
# GCC 12 at -O3 reports a false -Wrestrict on "literal" + std::string (GCC bug 105329).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND SITECHAIN_WARNINGS -Wno-restrict)
endif()

function(_sitechain_common target)
  target_compile_options(${target} PRIVATE ${SITECHAIN_WARNINGS})
  target_include_directories(${target} PUBLIC ${CMAKE_SOURCE_DIR})
endfunction()

function(sitechain_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  _sitechain_common(${name})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

function(sitechain_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  _sitechain_common(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
endfunction()

function(sitechain_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;SHARDS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  _sitechain_common(${name})
  # sitechain_test_main (tests/support/main/): GoogleTest's main, then the review of skips.
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest sitechain_test_main)
  set(tests)
  if(ARG_SHARDS)
    while(ARG_SHARDS)
      list(POP_FRONT ARG_SHARDS suffix filter)
      add_test(NAME ${name}_${suffix} COMMAND ${name} --gtest_filter=${filter})
      list(APPEND tests ${name}_${suffix})
    endwhile()
  else()
    add_test(NAME ${name} COMMAND ${name})
    set(tests ${name})
  endif()
  # Tests find the built programs and the openssl binary through the environment.
  set_tests_properties(${tests} PROPERTIES
    ENVIRONMENT "SITECHAIN_BIN_DIR=${CMAKE_BINARY_DIR}/bin;SITECHAIN_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
    TIMEOUT 900)
endfunction()
