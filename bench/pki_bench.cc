// pki_bench: what sitechain's certificate code costs, measured beside the raw crypto of the same
// machine in the same run, so that every figure of ours has its limit next to it.
//
//   BM_RawSign/<key>        pki::SignMessage over 300 bytes: the signing limit.
//   BM_BuildCertDev/<key>   pki::BuildCertDev. Builders verify what they sign, so this is one
//                           signature plus one verification plus the DER work around them.
//   BM_RawVerify/<key>      one certificate signature check with an already-parsed key
//                           (Botan's X509_Object::verify_signature): the verification limit.
//   BM_RawVerifyParsingKey/<key>  pki::VerifyMessage, which parses the key from its bytes
//                           every call: shows what the parse costs (large for RSA).
//   BM_VerifyCertDev/<key>  pki::Verifier on store root + developer identity + Cert_dev (rule 1).
//   BM_VerifyFullChain/<key> pki::Verifier on both roots, the identity, Cert_dev, Cert_store,
//                           Cert_site and the expected node (rules 1-5 and 8), no executable.
//   BM_Sha{256,512}Raw_64MiB   pki::HashBytes over 64 MiB in memory: the hashing limit.
//   BM_Sha{256,512}File_64MiB  pki::HashFile over the same 64 MiB in a temporary file (page
//                              cache warm, so this is pread(2) + hashing, not the disk).
//
// The verifier benchmarks carry `sigs` (signature verifications one check does), `sigs_needed`
// (what the rules need: one per certificate) and `time/sig` (their time divided by sigs) to set
// beside BM_RawVerify; after the usual table the program prints a summary of these ratios.
//
// Everything is deterministic: keys and certificates come from fixed seeds (SeededRandom, one
// per key type), at a fixed time (ManualClock). Keys are made once per key type, on first use,
// outside the timed loops. The benchmarks run one at a time on the main thread.
//
// The summary compares CPU times of the whole process (MeasureProcessCPUTime), which a busy
// machine disturbs less than wall times. Process, not thread, time: Botan 2.19 hands half of an
// RSA private-key operation (one CRT exponentiation) to its own thread pool, which the calling
// thread's CPU time would miss. Wall time for RSA signing also includes the hand-off to that
// thread.

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/bench_main.h"
#include "common/clock.h"
#include "common/files.h"
#include "common/random.h"
#include "common/result.h"
#include "common/status.h"
#include "pki/builders.h"
#include "pki/certificate.h"
#include "pki/csr.h"
#include "pki/hash.h"
#include "pki/key.h"
#include "pki/profile.h"
#include "pki/verifier.h"

namespace sitechain::pki {
namespace {

// 2026-01-01T00:00:00Z: every certificate is issued and verified at this instant.
constexpr TimePoint kBenchTime{std::chrono::sys_days{std::chrono::year{2026} / 1 / 1}};
constexpr uint64_t kSeed = 0x51'7e'c4'a1'2b'e5'00'01;
constexpr size_t kMessageBytes = 300;
constexpr size_t kHashInputBytes = size_t{64} << 20;

constexpr KeyType kKeyTypes[] = {KeyType::kEd25519, KeyType::kEcdsaP256, KeyType::kRsa2048,
                                 KeyType::kRsa3072};

constexpr std::string_view kStoreName = "bench-store";
constexpr std::string_view kDeveloperName = "bench-developer";
constexpr std::string_view kSite = "bench-site";
constexpr std::string_view kNode = "node-1";
constexpr std::string_view kService = "bench-svc";

// Signatures one Verifier call checks, each one public-key verification with the key type under
// test. `Done` is what pki/verifier.cc does today; `Needed` is what the rules need (one per
// certificate), to show what the verifier could shed. Counted from verifier.cc and confirmed with
// a breakpoint on Botan's X509_Object::verify_signature; update both if the verifier changes.
//
// Each root given is checked once (its self-signature, with its own cached key); every other
// certificate once against its issuer. So what is done equals what is needed:
//   Cert_dev (rule 1): store root, identity, Cert_dev.
constexpr int kCertDevSignaturesDone = 3;
constexpr int kCertDevSignaturesNeeded = 3;
//   Full chain (rules 1-8): both roots, identity, Cert_dev, Cert_store, Cert_site.
constexpr int kFullChainSignaturesDone = 6;
// Rules 4, 5 and 8 compare bytes only.
constexpr int kFullChainSignaturesNeeded = 6;
// BuildCertDev: one signature by the developer key, then its self-check
// (Verifier::VerifyIssuedBy) verifies Cert_dev against the developer identity (confirmed the same
// way, with a breakpoint on Botan's PK_Signer::signature as well).
constexpr int kBuildCertDevSignatures = 1;
constexpr int kBuildCertDevVerifications = 1;

const ManualClock& BenchClock() {
  static const ManualClock clock(kBenchTime);
  return clock;
}

// One complete certificate world for one key type: every signing key (store CA, developer,
// site CA) is of that type. The service instance's key is Ed25519 whatever the type, since no
// check verifies a signature with it.
struct KeyChain {
  PrivateKey store_key;
  PrivateKey developer_key;
  PrivateKey site_key;
  Certificate store_root;
  Certificate developer_identity;
  ReleaseSpec spec;
  Certificate cert_dev;
  Certificate cert_store;
  Certificate site_root;
  Certificate cert_site;
  std::string message;             // kMessageBytes of seeded bytes
  std::vector<uint8_t> signature;  // developer_key's signature over message
  std::vector<uint8_t> developer_spki;
};

ChainInput CertDevInput(const KeyChain& chain) {
  ChainInput input;
  input.store_root = chain.store_root;
  input.developer_identity = chain.developer_identity;
  input.cert_dev = chain.cert_dev;
  return input;
}

ChainInput FullChainInput(const KeyChain& chain) {
  ChainInput input = CertDevInput(chain);
  input.site_root = chain.site_root;
  input.cert_store = chain.cert_store;
  input.cert_site = chain.cert_site;
  input.expected_node_id = NodeSpiffeId(kSite, kNode);
  return input;
}

// OK if the verification passed and ran every rule in `rules`, so that a benchmark never times
// a verifier that skipped work.
Status CheckVerification(const Verification& v, const std::vector<int>& rules) {
  if (!v.ok()) return Internal("verifier refused the benchmark chain: " + v.failure->ToString());
  for (int rule : rules) {
    bool ran = false;
    for (int checked : v.rules_checked) ran = ran || checked == rule;
    if (!ran) return Internal("verifier passed without running rule " + std::to_string(rule));
  }
  return Status::Ok();
}

Result<std::unique_ptr<KeyChain>> MakeKeyChain(KeyType type) {
  SeededRandom rng(kSeed + static_cast<uint64_t>(type));
  const BuildContext ctx{BenchClock(), rng};

  PrivateKey store_key = PrivateKey::Generate(type, rng);
  PrivateKey developer_key = PrivateKey::Generate(type, rng);
  PrivateKey site_key = PrivateKey::Generate(type, rng);
  PrivateKey instance_key = PrivateKey::Generate(KeyType::kEd25519, rng);

  SITECHAIN_ASSIGN_OR_RETURN(
      Certificate store_root,
      BuildStoreRoot(store_key, std::string(kStoreName), kDefaultRootLifetime, ctx));
  SITECHAIN_ASSIGN_OR_RETURN(CertificateRequest csr,
                             CertificateRequest::Create(developer_key, kDeveloperName, rng));
  SITECHAIN_ASSIGN_OR_RETURN(
      Certificate identity,
      BuildDeveloperIdentity(csr, store_root, store_key, kDefaultDeveloperIdentityLifetime, ctx));
  ReleaseSpec spec{ServiceRelease{std::string(kService), "1.0.0", 1},
                   HashBytes(HashAlgorithm::kSha256, "the executable"), std::nullopt};
  SITECHAIN_ASSIGN_OR_RETURN(Certificate cert_dev, BuildCertDev(spec, identity, developer_key,
                                                                kDefaultCertDevLifetime, ctx));
  SITECHAIN_ASSIGN_OR_RETURN(Certificate cert_store, BuildCertStore(cert_dev, store_root, store_key,
                                                                    kDefaultCertDevLifetime, ctx));
  SITECHAIN_ASSIGN_OR_RETURN(Certificate site_root, BuildSiteRoot(site_key, std::string(kSite),
                                                                  kDefaultRootLifetime, ctx));
  const SiteBinding binding{std::string(kNode), std::string(kService), instance_key.PublicKeyDer(),
                            R"({"mode":"bench"})"};
  SITECHAIN_ASSIGN_OR_RETURN(
      Certificate cert_site,
      BuildCertSite(cert_store, binding, site_root, site_key, kDefaultCertSiteLifetime, ctx));

  std::string message(kMessageBytes, '\0');
  rng.Fill(reinterpret_cast<uint8_t*>(message.data()), message.size());
  std::vector<uint8_t> signature = SignMessage(developer_key, message, rng);
  std::vector<uint8_t> developer_spki = developer_key.PublicKeyDer();
  if (!VerifyMessage(developer_spki, message, signature)) {
    return Internal("VerifyMessage refused SignMessage's signature");
  }

  auto chain = std::unique_ptr<KeyChain>(new KeyChain{
      .store_key = std::move(store_key),
      .developer_key = std::move(developer_key),
      .site_key = std::move(site_key),
      .store_root = std::move(store_root),
      .developer_identity = std::move(identity),
      .spec = std::move(spec),
      .cert_dev = std::move(cert_dev),
      .cert_store = std::move(cert_store),
      .site_root = std::move(site_root),
      .cert_site = std::move(cert_site),
      .message = std::move(message),
      .signature = std::move(signature),
      .developer_spki = std::move(developer_spki),
  });
  const Verifier verifier(BenchClock());
  SITECHAIN_RETURN_IF_ERROR(CheckVerification(verifier.Verify(CertDevInput(*chain)), {1, 8}));
  SITECHAIN_RETURN_IF_ERROR(
      CheckVerification(verifier.Verify(FullChainInput(*chain)), {1, 2, 3, 4, 5, 8}));
  return chain;
}

// kHashInputBytes of seeded bytes, in memory and in a file of a fresh temporary directory that
// the destructor removes.
class HashInput final {
 public:
  HashInput(const HashInput&) = delete;
  HashInput& operator=(const HashInput&) = delete;
  ~HashInput() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  static Result<std::unique_ptr<HashInput>> Create() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/pki_bench.XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      return Unavailable("cannot create a temporary directory from " + templ);
    }
    std::unique_ptr<HashInput> input(new HashInput(templ));
    input->data_.resize(kHashInputBytes);
    SeededRandom rng(kSeed);
    rng.Fill(reinterpret_cast<uint8_t*>(input->data_.data()), input->data_.size());
    SITECHAIN_RETURN_IF_ERROR(WriteFileAtomic(input->path_, input->data_, 0600));
    return input;
  }

  const std::string& data() const { return data_; }
  const std::string& path() const { return path_; }

  // HashBytes of data(), computed on first use.
  const Digest& Expected(HashAlgorithm alg) {
    std::optional<Digest>& d = alg == HashAlgorithm::kSha256 ? sha256_ : sha512_;
    if (!d) d = HashBytes(alg, data_);
    return *d;
  }

 private:
  explicit HashInput(std::string dir) : dir_(std::move(dir)), path_(dir_ + "/input.bin") {}

  std::string dir_;
  std::string path_;
  std::string data_;
  std::optional<Digest> sha256_;
  std::optional<Digest> sha512_;
};

// What the benchmarks share: one KeyChain per key type and the hash input, each made on first
// use and kept, with its error if any, for the rest of the run. Owned by RunPkiBenchmarks and
// destroyed before main returns, never in static storage: a Botan key frees its memory into a
// pool that Botan's own static destructors tear down, so a key destroyed after them crashes.
// Not thread-safe: the benchmarks run one at a time on the main thread.
class Fixtures final {
 public:
  Fixtures() = default;
  Fixtures(const Fixtures&) = delete;
  Fixtures& operator=(const Fixtures&) = delete;

  // The KeyChain of `type`, or nullptr after marking the benchmark as failed.
  const KeyChain* ChainOrSkip(benchmark::State& state, KeyType type) {
    auto it = chains_.find(type);
    if (it == chains_.end()) it = chains_.emplace(type, MakeKeyChain(type)).first;
    if (it->second.ok()) return it->second->get();
    state.SkipWithError(it->second.status().WithContext(KeyTypeName(type)).ToString().c_str());
    return nullptr;
  }

  // The hash input, or nullptr after marking the benchmark as failed.
  HashInput* HashInputOrSkip(benchmark::State& state) {
    if (!hash_input_) hash_input_.emplace(HashInput::Create());
    if (hash_input_->ok()) return hash_input_->value().get();
    state.SkipWithError(hash_input_->status().ToString().c_str());
    return nullptr;
  }

 private:
  std::map<KeyType, Result<std::unique_ptr<KeyChain>>> chains_;
  std::optional<Result<std::unique_ptr<HashInput>>> hash_input_;
};

// Sets `sigs`, `sigs_needed` and `time/sig` (seconds per verification done, printed with an SI
// prefix: 52.1u = 52.1 us) so that a verifier figure can be read against BM_RawVerify of the
// same key type.
void ReportSignatures(benchmark::State& state, int done, int needed) {
  state.counters["sigs"] = done;
  state.counters["sigs_needed"] = needed;
  state.counters["time/sig"] = benchmark::Counter(
      done, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_RawSign(benchmark::State& state, Fixtures* fixtures, KeyType type) {
  const KeyChain* chain = fixtures->ChainOrSkip(state, type);
  if (chain == nullptr) return;
  SeededRandom rng(kSeed);
  for (auto _ : state) {
    std::vector<uint8_t> signature = SignMessage(chain->developer_key, chain->message, rng);
    benchmark::DoNotOptimize(signature.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_BuildCertDev(benchmark::State& state, Fixtures* fixtures, KeyType type) {
  const KeyChain* chain = fixtures->ChainOrSkip(state, type);
  if (chain == nullptr) return;
  SeededRandom rng(kSeed);
  const BuildContext ctx{BenchClock(), rng};
  for (auto _ : state) {
    Result<Certificate> cert = BuildCertDev(chain->spec, chain->developer_identity,
                                            chain->developer_key, kDefaultCertDevLifetime, ctx);
    if (!cert.ok()) {
      state.SkipWithError(cert.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(cert);
  }
  state.SetLabel("sign + builder's self-check verify");
  state.counters["signs"] = kBuildCertDevSignatures;
  state.counters["verifies"] = kBuildCertDevVerifications;
  state.SetItemsProcessed(state.iterations());
}

// The raw limit of one certificate signature check: Botan's verification of Cert_dev's signature
// with the developer identity's already-parsed key (what every link of a chain costs at least).
void BM_RawVerify(benchmark::State& state, Fixtures* fixtures, KeyType type) {
  const KeyChain* chain = fixtures->ChainOrSkip(state, type);
  if (chain == nullptr) return;
  for (auto _ : state) {
    if (!chain->cert_dev.SignatureVerifiesWith(chain->developer_identity)) {
      state.SkipWithError("a good signature was refused");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// The same message check through the public-key bytes, parsing the key every time (what a
// caller without a Certificate pays; for RSA the parse costs ~15x the check).
void BM_RawVerifyParsingKey(benchmark::State& state, Fixtures* fixtures, KeyType type) {
  const KeyChain* chain = fixtures->ChainOrSkip(state, type);
  if (chain == nullptr) return;
  for (auto _ : state) {
    if (!VerifyMessage(chain->developer_spki, chain->message, chain->signature)) {
      state.SkipWithError("VerifyMessage refused a good signature");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// Times Verifier::Verify on `input`, which must pass.
void RunVerifier(benchmark::State& state, const ChainInput& input, int done, int needed) {
  const Verifier verifier(BenchClock());
  for (auto _ : state) {
    Verification v = verifier.Verify(input);
    if (!v.ok()) {
      state.SkipWithError(v.failure->ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(v);
  }
  ReportSignatures(state, done, needed);
  state.SetItemsProcessed(state.iterations());
}

void BM_VerifyCertDev(benchmark::State& state, Fixtures* fixtures, KeyType type) {
  const KeyChain* chain = fixtures->ChainOrSkip(state, type);
  if (chain == nullptr) return;
  RunVerifier(state, CertDevInput(*chain), kCertDevSignaturesDone, kCertDevSignaturesNeeded);
}

void BM_VerifyFullChain(benchmark::State& state, Fixtures* fixtures, KeyType type) {
  const KeyChain* chain = fixtures->ChainOrSkip(state, type);
  if (chain == nullptr) return;
  RunVerifier(state, FullChainInput(*chain), kFullChainSignaturesDone, kFullChainSignaturesNeeded);
}

void BM_HashRaw(benchmark::State& state, Fixtures* fixtures, HashAlgorithm alg) {
  HashInput* input = fixtures->HashInputOrSkip(state);
  if (input == nullptr) return;
  for (auto _ : state) {
    Digest d = HashBytes(alg, input->data());
    benchmark::DoNotOptimize(d.bytes.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kHashInputBytes));
}

void BM_HashFile(benchmark::State& state, Fixtures* fixtures, HashAlgorithm alg) {
  HashInput* input = fixtures->HashInputOrSkip(state);
  if (input == nullptr) return;
  const Digest& expected = input->Expected(alg);
  for (auto _ : state) {
    Result<Digest> d = HashFile(alg, input->path());
    if (!d.ok()) {
      state.SkipWithError(d.status().ToString().c_str());
      break;
    }
    if (*d != expected) {
      state.SkipWithError("HashFile and HashBytes disagree on the same bytes");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kHashInputBytes));
}

// Prints the usual console table and then, for each key type, our figures beside the raw
// crypto figures of this same run. With --benchmark_repetitions the median stands for a name.
class SummaryReporter final : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type == Run::RT_Aggregate && !median) continue;
      Figure& f = figures_[run.run_name.function_name];
      if (f.from_median && !median) continue;
      f = Figure{run.GetAdjustedCPUTime() / benchmark::GetTimeUnitMultiplier(run.time_unit),
                 median};
    }
  }

  void Finalize() override {
    std::ostream& out = GetOutputStream();
    out << "\nSummary: process CPU time per operation; ratio = ours / the raw crypto of this "
           "run.\n";
    out << Row({"key type", "raw sign", "BuildCertDev", "x sign", "x sign+verify"});
    for (KeyType type : kKeyTypes) {
      const std::string k(KeyTypeName(type));
      auto sign = Lookup("BM_RawSign/" + k);
      auto verify = Lookup("BM_RawVerify/" + k);
      auto build = Lookup("BM_BuildCertDev/" + k);
      out << Row(
          {k, Micros(sign), Micros(build), Ratio(build, sign), Ratio(build, Sum(sign, verify))});
    }
    VerifyTable(out, "VerifyCertDev", kCertDevSignaturesDone, kCertDevSignaturesNeeded);
    VerifyTable(out, "VerifyFullChain", kFullChainSignaturesDone, kFullChainSignaturesNeeded);
    out << "\n" << Row({"64 MiB", "raw MB/s", "file MB/s", "file / raw"});
    for (std::string_view alg : {"Sha256", "Sha512"}) {
      auto raw = Lookup("BM_" + std::string(alg) + "Raw_64MiB");
      auto file = Lookup("BM_" + std::string(alg) + "File_64MiB");
      out << Row({std::string(alg), Rate(raw), Rate(file), Ratio(raw, file)});
    }
    out << "/ (N x raw): ours divided by N raw verifications, N = what the verifier does (sigs)\n"
           "and what the rules need (sigs_needed); above 1 is the cost beyond the signatures.\n";
    out.flush();
  }

 private:
  struct Figure {
    double seconds = 0;
    bool from_median = false;
  };

  std::optional<double> Lookup(const std::string& name) const {
    auto it = figures_.find(name);
    if (it == figures_.end()) return std::nullopt;
    return it->second.seconds;
  }
  static std::optional<double> Sum(std::optional<double> a, std::optional<double> b) {
    if (!a || !b) return std::nullopt;
    return *a + *b;
  }
  static std::optional<double> Times(std::optional<double> a, int n) {
    if (!a) return std::nullopt;
    return *a * n;
  }
  // One table comparing the verifier benchmark BM_<name>/<key> with raw verification.
  void VerifyTable(std::ostream& out, const std::string& name, int done, int needed) const {
    out << "\n" << Row({"key type", "raw verify", name, PerRaw(done), PerRaw(needed)});
    for (KeyType type : kKeyTypes) {
      const std::string k(KeyTypeName(type));
      auto verify = Lookup("BM_RawVerify/" + k);
      auto ours = Lookup("BM_" + name + "/" + k);
      out << Row({k, Micros(verify), Micros(ours), Ratio(ours, Times(verify, done)),
                  Ratio(ours, Times(verify, needed))});
    }
  }
  static std::string PerRaw(int n) { return "/ (" + std::to_string(n) + " x raw)"; }
  static std::string Format(const char* fmt, double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, fmt, v);
    return buf;
  }
  static std::string Micros(std::optional<double> s) {
    return s ? Format("%.1f us", *s * 1e6) : "-";
  }
  static std::string Ratio(std::optional<double> a, std::optional<double> b) {
    return a && b && *b > 0 ? Format("%.2f", *a / *b) : "-";
  }
  static std::string Rate(std::optional<double> s) {
    return s && *s > 0 ? Format("%.0f", static_cast<double>(kHashInputBytes) / *s / 1e6) : "-";
  }
  static std::string Row(const std::vector<std::string>& cells) {
    std::string row;
    for (size_t i = 0; i < cells.size(); ++i) {
      const size_t width = i == 0 ? 12 : 17;
      std::string cell = cells[i];
      if (cell.size() < width) cell.insert(i == 0 ? cell.size() : 0, width - cell.size(), ' ');
      row += cell;
    }
    return row + "\n";
  }

  std::map<std::string, Figure> figures_;  // by benchmark name without arguments
};

void RegisterBenchmarks(Fixtures* fixtures) {
  // Each benchmark runs for --benchmark_min_time (default 0.5 s): about 30 s in all, key
  // generation included. A per-benchmark MinTime would override that flag and lengthen every
  // name. The benchmarks keep `fixtures`, which must outlive the run.
  auto crypto = [](benchmark::internal::Benchmark* b) {
    b->Unit(benchmark::kMicrosecond)->MeasureProcessCPUTime();
  };
  for (KeyType type : kKeyTypes) {
    const std::string k(KeyTypeName(type));
    crypto(benchmark::RegisterBenchmark(("BM_RawSign/" + k).c_str(), BM_RawSign, fixtures, type));
    crypto(benchmark::RegisterBenchmark(("BM_BuildCertDev/" + k).c_str(), BM_BuildCertDev, fixtures,
                                        type));
    crypto(
        benchmark::RegisterBenchmark(("BM_RawVerify/" + k).c_str(), BM_RawVerify, fixtures, type));
    crypto(benchmark::RegisterBenchmark(("BM_RawVerifyParsingKey/" + k).c_str(),
                                        BM_RawVerifyParsingKey, fixtures, type));
    crypto(benchmark::RegisterBenchmark(("BM_VerifyCertDev/" + k).c_str(), BM_VerifyCertDev,
                                        fixtures, type));
    crypto(benchmark::RegisterBenchmark(("BM_VerifyFullChain/" + k).c_str(), BM_VerifyFullChain,
                                        fixtures, type));
  }
  auto hashing = [](benchmark::internal::Benchmark* b) {
    b->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime();
  };
  hashing(benchmark::RegisterBenchmark("BM_Sha256Raw_64MiB", BM_HashRaw, fixtures,
                                       HashAlgorithm::kSha256));
  hashing(benchmark::RegisterBenchmark("BM_Sha256File_64MiB", BM_HashFile, fixtures,
                                       HashAlgorithm::kSha256));
  hashing(benchmark::RegisterBenchmark("BM_Sha512Raw_64MiB", BM_HashRaw, fixtures,
                                       HashAlgorithm::kSha512));
  hashing(benchmark::RegisterBenchmark("BM_Sha512File_64MiB", BM_HashFile, fixtures,
                                       HashAlgorithm::kSha512));
}

int RunPkiBenchmarks(int argc, char** argv) {
  return bench::RunBenchmarks<SummaryReporter>(argc, argv, [](const bench::Run& run) {
    Fixtures fixtures;
    RegisterBenchmarks(&fixtures);
    return run();
  });
}

}  // namespace
}  // namespace sitechain::pki

int main(int argc, char** argv) { return sitechain::pki::RunPkiBenchmarks(argc, argv); }
