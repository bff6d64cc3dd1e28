#pragma once
// Which environment variables a site's sitePolicy "env" may set for a service: one rule, checked
// by the slsm when the admin sets a policy (slsm/catalog.cc) and again by every node before it
// launches (nlsm/launch_policy.cc), which does not trust the slsm's check. Documented in
// docs/operations.md §28 ("sitePolicy env: the refused names").
//
// A name must match [A-Z_][A-Z0-9_]* and be at most kMaxPolicyEnvNameBytes long, and must not
// be one of the refused names below. The verified executable is the only code a Cert_site
// vouches for; these variables make the C library, the dynamic loader, a language runtime or a
// shell load or run other code (or parse files the site names with code that was never meant to
// take them from a caller), which would run unverified code under a verified service's
// identity. Where a runtime reads many variables and adds new ones in its releases, its whole
// prefix is refused, with the few that load nothing allowed by name.
//
// Header-only, pure functions; thread-safe.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sitechain {

inline constexpr size_t kMaxPolicyEnvNameBytes = 128;

// One family of refused names: exact names, and prefixes (a prefix refuses every name that
// starts with it).
struct RefusedEnvFamily {
  std::string_view why;  // said in the refusal
  std::vector<std::string_view> names;
  std::vector<std::string_view> prefixes;
};

// The refused families, in the order the documentation lists them.
inline const std::array<RefusedEnvFamily, 10>& RefusedEnvFamilies() {
  static const std::array<RefusedEnvFamily, 10> kFamilies = {{
      {"reserved: the node sets SITECHAIN_* itself (the service's identity files); a policy must "
       "not point "
       "a service at another instance's key or certificate",
       {},
       {"SITECHAIN_"}},
      {"it makes the dynamic loader load or audit libraries that were never verified", {}, {"LD_"}},
      {"glibc refuses to take it from an untrusted caller (it is on glibc's list of variables "
       "removed for setuid programs): it loads modules (iconv), tunes or traces the allocator, "
       "or makes the C library read files the caller names",
       {"GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH",
        "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TZDIR"},
       {"MALLOC_"}},
      {"it makes Node.js load modules or run options that were never verified",
       {"NODE_OPTIONS", "NODE_PATH", "NODE_REPL_EXTERNAL_MODULE"},
       {}},
      {"CPython reads many PYTHON* variables (new ones in its releases) and several load code "
       "(PYTHONPATH, PYTHONHOME, PYTHONSTARTUP, PYTHONUSERBASE's .pth files, PYTHONBREAKPOINT, "
       "PYTHONWARNINGS categories); only PYTHONUNBUFFERED, PYTHONDONTWRITEBYTECODE, "
       "PYTHONIOENCODING and PYTHONUTF8 are allowed",
       {},
       {"PYTHON"}},
      {"it makes the JVM load agents or classes that were never verified",
       {"JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH"},
       {}},
      {"it makes Perl load modules, I/O layers or a debugger that were never verified",
       {},
       {"PERL"}},
      {"it makes Ruby (or RubyGems, Bundler) load code that was never verified",
       {"GEM_HOME", "GEM_PATH", "BUNDLE_GEMFILE"},
       {"RUBY"}},
      {"it makes a shell run code at start-up or while it traces (bash, dash, sh)",
       {"ENV", "SHELLOPTS", "PS4", "IFS", "PROMPT_COMMAND"},
       {"BASH"}},
      {"it makes Lua, PHP or OpenSSL load code or configuration that loads code (modules, "
       "engines, providers)",
       {"PHPRC", "PHP_INI_SCAN_DIR", "OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES"},
       {"LUA_"}},
  }};
  return kFamilies;
}

// PYTHON* names that load nothing (buffering, bytecode files, encodings).
inline bool AllowedPythonEnvName(std::string_view name) {
  return name == "PYTHONUNBUFFERED" || name == "PYTHONDONTWRITEBYTECODE" ||
         name == "PYTHONIOENCODING" || name == "PYTHONUTF8";
}

// OK if a sitePolicy may set the environment variable `name`, else INVALID_ARGUMENT naming the
// variable (quoted, printable characters only) and why.
inline Status CheckPolicyEnvName(std::string_view name) {
  const auto quote = [](std::string_view s) {
    std::string out = "\"";
    for (char c : s.substr(0, 40)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return out + (s.size() > 40 ? "...\"" : "\"");
  };
  if (name.empty()) return InvalidArgument("an empty variable name");
  if (name.size() > kMaxPolicyEnvNameBytes) {
    return InvalidArgument("variable name " + quote(name) + " is longer than " +
                           std::to_string(kMaxPolicyEnvNameBytes) + " bytes");
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) {
      return InvalidArgument("variable name " + quote(name) + " must match [A-Z_][A-Z0-9_]*");
    }
  }
  if (AllowedPythonEnvName(name)) return Status::Ok();
  for (const RefusedEnvFamily& family : RefusedEnvFamilies()) {
    bool refused = false;
    for (std::string_view n : family.names) refused = refused || name == n;
    for (std::string_view p : family.prefixes) refused = refused || name.starts_with(p);
    if (refused) {
      return InvalidArgument("variable " + quote(name) + " is refused: " + std::string(family.why) +
                             " (docs/operations.md §28, sitePolicy env)");
    }
  }
  return Status::Ok();
}

}  // namespace sitechain
