#include "nlsm/launch_policy.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <string>

namespace sitechain::nlsm {
namespace {

// Expects INVALID_ARGUMENT whose message contains every fragment.
void ExpectRefused(const std::string& policy, std::initializer_list<std::string> fragments) {
  Result<LaunchPolicy> r = ParseLaunchPolicy(policy);
  ASSERT_FALSE(r.ok()) << policy;
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << policy;
  for (const auto& f : fragments) {
    EXPECT_NE(r.status().message().find(f), std::string::npos)
        << policy << " -> " << r.status().message() << " (expected \"" << f << "\")";
  }
  EXPECT_NE(r.status().message().find("cannot honour"), std::string::npos) << r.status().message();
}

TEST(LaunchPolicy, EmptyAndEmptyObjectGiveDefaults) {
  for (const char* text : {"", "{}", " { } "}) {
    Result<LaunchPolicy> r = ParseLaunchPolicy(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().ToString();
    EXPECT_EQ(*r, LaunchPolicy{});
    EXPECT_EQ(r->restart, RestartPolicy::kOnFailure);
  }
}

TEST(LaunchPolicy, ParsesTheNodesKeysAndIgnoresTheRest) {
  Result<LaunchPolicy> r =
      ParseLaunchPolicy(R"({"args":["--port","8080",""],"env":{"LOG_LEVEL":"debug","_X1":"a=b c"},)"
                        R"("restart":"always","maxTemp":42,"service":{"nested":{"env":7}}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->args, (std::vector<std::string>{"--port", "8080", ""}));
  EXPECT_EQ(r->env, (std::map<std::string, std::string>{{"LOG_LEVEL", "debug"}, {"_X1", "a=b c"}}));
  EXPECT_EQ(r->restart, RestartPolicy::kAlways);
}

TEST(LaunchPolicy, RestartValues) {
  for (auto p : {RestartPolicy::kAlways, RestartPolicy::kOnFailure, RestartPolicy::kNever}) {
    const std::string text = R"({"restart":")" + std::string(RestartPolicyName(p)) + R"("})";
    Result<LaunchPolicy> r = ParseLaunchPolicy(text);
    ASSERT_TRUE(r.ok()) << text;
    EXPECT_EQ(r->restart, p);
  }
  ExpectRefused(R"({"restart":"sometimes"})", {"\"restart\"", "sometimes", "on-failure"});
  ExpectRefused(R"({"restart":true})", {"\"restart\"", "must be a string", "a boolean"});
  ExpectRefused(R"({"restart":"Always"})", {"\"restart\""});
}

TEST(LaunchPolicy, RenewalSignalValues) {
  EXPECT_EQ(ParseLaunchPolicy("{}")->renewal_signal, 0);
  EXPECT_EQ(ParseLaunchPolicy(R"({"renewal_signal":"none"})")->renewal_signal, 0);
  EXPECT_EQ(ParseLaunchPolicy(R"({"renewal_signal":"SIGHUP"})")->renewal_signal, SIGHUP);
  EXPECT_EQ(ParseLaunchPolicy(R"({"renewal_signal":"SIGUSR1"})")->renewal_signal, SIGUSR1);
  EXPECT_EQ(ParseLaunchPolicy(R"({"renewal_signal":"SIGUSR2"})")->renewal_signal, SIGUSR2);
  // Nothing that stops or kills the service: a renewal must never take it down.
  ExpectRefused(R"({"renewal_signal":"SIGKILL"})", {"\"renewal_signal\"", "SIGKILL", "SIGHUP"});
  ExpectRefused(R"({"renewal_signal":"SIGTERM"})", {"\"renewal_signal\""});
  ExpectRefused(R"({"renewal_signal":1})", {"\"renewal_signal\"", "must be a string"});
}

TEST(LaunchPolicy, RefusesWhatIsNotAnObject) {
  ExpectRefused("not json", {"not valid JSON"});
  ExpectRefused(R"({"args":["a"])", {"not valid JSON"});
  ExpectRefused(R"(["--port"])", {"JSON object", "an array"});
  ExpectRefused(R"("text")", {"JSON object", "a string"});
  ExpectRefused("null", {"JSON object", "null"});
}

TEST(LaunchPolicy, RefusesWrongArgs) {
  ExpectRefused(R"({"args":"--port 8080"})", {"\"args\"", "array of strings", "a string"});
  ExpectRefused(R"({"args":["a",3]})", {"\"args[1]\"", "must be a string", "a number"});
  ExpectRefused(R"({"args":[null]})", {"\"args[0]\"", "null"});
  ExpectRefused(R"({"args":["a\u0000b"]})", {"\"args[0]\"", "NUL"});
  std::string many = R"({"args":[)";
  for (size_t i = 0; i <= kMaxPolicyArgs; ++i) many += std::string(i ? "," : "") + "\"x\"";
  ExpectRefused(many + "]}", {"\"args\"", "65 elements", "at most 64"});
}

TEST(LaunchPolicy, RefusesWrongEnv) {
  ExpectRefused(R"({"env":["A=b"]})", {"\"env\"", "object", "an array"});
  ExpectRefused(R"({"env":{"PORT":8080}})", {"\"env.PORT\"", "must be a string", "a number"});
  ExpectRefused(R"({"env":{"A":"x\u0000y"}})", {"\"env.A\"", "NUL"});
  ExpectRefused(R"({"env":{"lower":"x"}})", {"\"env\"", "\"lower\"", "[A-Z_][A-Z0-9_]*"});
  ExpectRefused(R"({"env":{"1ABC":"x"}})", {"\"1ABC\"", "[A-Z_][A-Z0-9_]*"});
  ExpectRefused(R"({"env":{"A-B":"x"}})", {"\"A-B\""});
  ExpectRefused(R"({"env":{"":"x"}})", {"\"env\"", "empty"});
  ExpectRefused(R"({"env":{"SITECHAIN_CERT":"/tmp/other.pem"}})",
                {"\"env\"", "SITECHAIN_CERT", "reserved"});
  ExpectRefused(R"({"env":{"LD_PRELOAD":"/tmp/x.so"}})", {"LD_PRELOAD", "never verified"});
  ExpectRefused(R"({"env":{"LD_LIBRARY_PATH":"/tmp"}})", {"LD_LIBRARY_PATH"});
  ExpectRefused(R"({"env":{"GCONV_PATH":"/tmp"}})", {"GCONV_PATH"});
  ExpectRefused(R"({"env":{")" + std::string(kMaxEnvNameBytes + 1, 'A') + R"(":"x"}})",
                {"longer than 128"});
  std::string many = R"({"env":{)";
  for (size_t i = 0; i <= kMaxPolicyEnv; ++i) {
    many += std::string(i ? "," : "") + "\"V" + std::to_string(i) + "\":\"x\"";
  }
  ExpectRefused(many + "}}", {"\"env\"", "65 variables", "at most 64"});
  // Names that look close to reserved ones are fine.
  EXPECT_TRUE(
      ParseLaunchPolicy(R"({"env":{"SITECHAIN":"x","XLD_PRELOAD":"y","PATH":"/opt"}})").ok());
}

// Issue 17, point 8: variables that make the loader, the C library, a language runtime or a
// shell load code around the verified executable are refused, each naming itself and why.
TEST(LaunchPolicy, RefusesVariablesThatLoadCodeAroundTheVerifiedExecutable) {
  for (const std::string name : {"LD_PRELOAD",
                                 "LD_AUDIT",
                                 "GCONV_PATH",
                                 "GLIBC_TUNABLES",
                                 "MALLOC_CHECK_",
                                 "MALLOC_TRACE",
                                 "HOSTALIASES",
                                 "LOCPATH",
                                 "NLSPATH",
                                 "TZDIR",
                                 "RES_OPTIONS",
                                 "NODE_OPTIONS",
                                 "NODE_PATH",
                                 "PYTHONPATH",
                                 "PYTHONSTARTUP",
                                 "PYTHONHOME",
                                 "PYTHONINSPECT",
                                 "PYTHONUSERBASE",
                                 "PYTHONBREAKPOINT",
                                 "PYTHONWARNINGS",
                                 "PYTHON_BASIC_REPL",
                                 "JAVA_TOOL_OPTIONS",
                                 "_JAVA_OPTIONS",
                                 "JDK_JAVA_OPTIONS",
                                 "CLASSPATH",
                                 "PERL5OPT",
                                 "PERL5LIB",
                                 "PERLLIB",
                                 "PERL5DB",
                                 "PERLIO",
                                 "RUBYOPT",
                                 "RUBYLIB",
                                 "GEM_PATH",
                                 "BUNDLE_GEMFILE",
                                 "BASH_ENV",
                                 "BASH_LOADABLES_PATH",
                                 "ENV",
                                 "SHELLOPTS",
                                 "PS4",
                                 "LUA_INIT",
                                 "LUA_INIT_5_4",
                                 "LUA_PATH",
                                 "LUA_CPATH_5_4",
                                 "PHPRC",
                                 "OPENSSL_CONF",
                                 "OPENSSL_MODULES"}) {
    SCOPED_TRACE(name);
    ExpectRefused(R"({"env":{")" + name + R"(":"x"}})", {"\"env\"", "\"" + name + "\"", "refused"});
  }
  ExpectRefused(R"({"env":{"NODE_OPTIONS":"--require /tmp/x.js"}})", {"Node.js", "never verified"});
  ExpectRefused(R"({"env":{"JAVA_TOOL_OPTIONS":"-javaagent:/tmp/a.jar"}})", {"JVM"});
  ExpectRefused(R"({"env":{"PYTHONPATH":"/tmp"}})", {"PYTHONPATH", "load code"});
  // What loads nothing stays allowed, also beside a refused family's prefix.
  Result<LaunchPolicy> ok = ParseLaunchPolicy(
      R"({"env":{"PATH":"/opt/bin:/usr/bin","NODE_ENV":"production","PYTHONUNBUFFERED":"1",)"
      R"("PYTHONDONTWRITEBYTECODE":"1","JAVA_HOME":"/usr/lib/jvm","LANG":"C.UTF-8","TZ":"UTC",)"
      R"("ENVIRONMENT":"prod","MY_LD_PRELOAD":"x","TMPDIR":"/tmp","LOG_LEVEL":"debug"}})");
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST(LaunchPolicy, RefusesDuplicateKeysAtAnyDepth) {
  ExpectRefused(R"({"restart":"never","restart":"always"})", {"\"restart\"", "more than once"});
  ExpectRefused(R"({"env":{"A":"1","A":"2"}})", {"\"A\"", "more than once"});
  ExpectRefused(R"({"service":{"k":1,"k":2}})", {"\"k\"", "more than once"});
  // The same key in different objects is not a duplicate.
  EXPECT_TRUE(ParseLaunchPolicy(R"({"a":{"k":1},"b":{"k":2},"k":3})").ok());
}

TEST(LaunchPolicy, RefusesOversizedPolicies) {
  const std::string big = R"({"pad":")" + std::string(kMaxPolicyBytes, 'x') + R"("})";
  Result<LaunchPolicy> r = ParseLaunchPolicy(big);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("at most 4096"), std::string::npos);
}

TEST(LaunchPolicy, MessagesDoNotEchoControlCharacters) {
  Result<LaunchPolicy> r = ParseLaunchPolicy("{\"env\":{\"A\\nB\":\"x\"}}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << r.status().message();
}

TEST(RestartPolicyNames, RoundTrip) {
  for (auto p : {RestartPolicy::kAlways, RestartPolicy::kOnFailure, RestartPolicy::kNever}) {
    Result<RestartPolicy> parsed = ParseRestartPolicy(RestartPolicyName(p));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, p);
  }
  EXPECT_FALSE(ParseRestartPolicy("").ok());
}

TEST(LaunchPolicy, ParsesLimitsAndSandbox) {
  Result<LaunchPolicy> r = ParseLaunchPolicy(
      R"({"limits":{"memory":"64M","cpu":0.5,"pids":32},"sandbox":{"private_tmp":false}})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->limits.memory_bytes, uint64_t{64} << 20);
  EXPECT_EQ(r->limits.cpu_millicores, 500u);
  EXPECT_EQ(r->limits.pids, 32u);
  EXPECT_EQ(r->sandbox.private_tmp, false);
  EXPECT_FALSE(r->sandbox.read_only_root.has_value());  // the node's default
  auto bytes = ParseLaunchPolicy(R"({"limits":{"memory":2097152}})");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->limits.memory_bytes, 2097152u);
  EXPECT_EQ(ParseLaunchPolicy(R"({"limits":{"memory":"1G"}})")->limits.memory_bytes,
            uint64_t{1} << 30);
  EXPECT_FALSE(ParseLaunchPolicy("{}")->limits.any());
}

TEST(LaunchPolicy, RefusesLimitsAndSandboxesItCannotHonour) {
  ExpectRefused(R"({"limits":[]})", {"\"limits\"", "object"});
  ExpectRefused(R"({"limits":{"memory":"64X"}})", {"limits.memory"});
  ExpectRefused(R"({"limits":{"memory":"512K"}})", {"limits.memory", "at least 1M"});
  ExpectRefused(R"({"limits":{"memory":-5}})", {"limits.memory"});
  ExpectRefused(R"({"limits":{"cpu":0}})", {"limits.cpu"});
  ExpectRefused(R"({"limits":{"cpu":"1"}})", {"limits.cpu"});
  ExpectRefused(R"({"limits":{"pids":0}})", {"limits.pids"});
  ExpectRefused(R"({"limits":{"pids":1.5}})", {"limits.pids"});
  ExpectRefused(R"({"limits":{"swap":"1G"}})", {"limits.swap", "unknown limit"});
  ExpectRefused(R"({"sandbox":true})", {"\"sandbox\""});
  ExpectRefused(R"({"sandbox":{"private_tmp":"yes"}})", {"sandbox.private_tmp"});
  ExpectRefused(R"({"sandbox":{"network":false}})", {"sandbox.network", "unknown option"});
}

}  // namespace
}  // namespace sitechain::nlsm
