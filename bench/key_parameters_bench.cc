// key_parameters_bench: what refusing a hostile CSR costs the store or the site manager now that
// the key's parameters are checked before any signature work (pki/key_parameters.h, issue 17),
// beside what verifying an honest CSR costs (the crypto floor of every registration and
// enrollment) and what the hostile CSR cost before (Botan loading the key and checking the
// signature with it, as CertificateRequest::SignatureValid did for any key), in the same run.
//
//   BM_RefuseHostileCsr/<shape>    CertificateRequest::FromDer of a hand-made CSR whose RSA key
//                                  is outside the profile: decode, then refusal
//   BM_VerifyHonestCsr/<key>       FromDer + CheckRequest of a CSR made by CertificateRequest::
//                                  Create: decode, key check, one signature verification
//   BM_UncheckedVerify/<shape>     Botan alone, as before the check: X509::load_key of the
//                                  hostile key, then PK_Verifier on the CSR's signed body
//
// Shapes: rsa16384 (16384-bit modulus, e = 65537), rsa8192-e8192 (an 8192-bit modulus and an
// 8192-bit exponent; the 32768/32768 costs seconds per check and is left out of the
// loop). Keys and CSRs come from fixed seeds and are made before timing.

#include <benchmark/benchmark.h>
#include <botan/pubkey.h>
#include <botan/x509_key.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "common/random.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "tests/support/hostile_key_csr.h"

namespace sitechain {
namespace {

using Bytes = std::vector<uint8_t>;

struct HostileCsr {
  Bytes spki;
  Bytes der;
  Bytes signed_body;  // what the signature covers (approximately: the CSR's info SEQUENCE)
  Bytes signature;
};

struct Fixtures {
  std::map<std::string, HostileCsr> hostile;
  std::map<std::string, Bytes> honest;  // key type name -> CSR DER
};

HostileCsr MakeHostile(size_t bits, const Bytes& exponent, Random& rng) {
  HostileCsr h;
  h.spki = testing::RandomRsaSpki(bits, exponent, rng);
  h.der = testing::CsrDerWithKey(h.spki, "mallory", bits / 8, rng);
  h.signed_body.assign(h.der.begin() + 4, h.der.begin() + 4 + 64);
  h.signature.assign(h.der.end() - bits / 8, h.der.end());
  h.signature[0] = 0;  // below the modulus, so that Botan does the exponentiation
  return h;
}

void BM_RefuseHostileCsr(benchmark::State& state, const HostileCsr* csr) {
  for (auto _ : state) {
    Result<pki::CertificateRequest> r = pki::CertificateRequest::FromDer(csr->der);
    if (r.ok() || r.status().code() != StatusCode::kInvalidArgument) {
      state.SkipWithError("the hostile CSR was not refused by its key's parameters");
      return;
    }
    benchmark::DoNotOptimize(r);
  }
}

void BM_VerifyHonestCsr(benchmark::State& state, const Bytes* der) {
  for (auto _ : state) {
    Result<pki::CertificateRequest> r = pki::CertificateRequest::FromDer(*der);
    if (!r.ok() || !pki::CheckRequest(*r, "developer").ok()) {
      state.SkipWithError("the honest CSR did not verify");
      return;
    }
  }
}

void BM_UncheckedVerify(benchmark::State& state, const HostileCsr* csr) {
  for (auto _ : state) {
    std::unique_ptr<Botan::Public_Key> key(Botan::X509::load_key(csr->spki));
    Botan::PK_Verifier verifier(*key, "EMSA3(SHA-256)");
    const bool ok = verifier.verify_message(csr->signed_body, csr->signature);
    benchmark::DoNotOptimize(ok);
  }
}

int Main(int argc, char** argv) {
  return bench::RunBenchmarks<benchmark::ConsoleReporter>(argc, argv, [](const bench::Run& run) {
    SeededRandom rng(17);
    Fixtures f;
    f.hostile["rsa16384"] = MakeHostile(16384, testing::kExponent65537, rng);
    f.hostile["rsa8192-e8192"] = MakeHostile(8192, testing::RandomOddNumber(8192, rng), rng);
    for (pki::KeyType type : {pki::KeyType::kEd25519, pki::KeyType::kEcdsaP256,
                              pki::KeyType::kRsa2048, pki::KeyType::kRsa3072}) {
      const pki::PrivateKey key = pki::PrivateKey::Generate(type, rng);
      Result<pki::CertificateRequest> csr = pki::CertificateRequest::Create(key, "alice", rng);
      if (!csr.ok()) {
        std::fprintf(stderr, "cannot make a CSR: %s\n", csr.status().ToString().c_str());
        return EXIT_FAILURE;
      }
      f.honest[std::string(pki::KeyTypeName(type))] = csr->ToDer();
    }
    for (const auto& [name, csr] : f.hostile) {
      benchmark::RegisterBenchmark(("BM_RefuseHostileCsr/" + name).c_str(), BM_RefuseHostileCsr,
                                   &csr)
          ->Unit(benchmark::kMicrosecond);
    }
    for (const auto& [name, der] : f.honest) {
      benchmark::RegisterBenchmark(("BM_VerifyHonestCsr/" + name).c_str(), BM_VerifyHonestCsr, &der)
          ->Unit(benchmark::kMicrosecond);
    }
    for (const auto& [name, csr] : f.hostile) {
      benchmark::RegisterBenchmark(("BM_UncheckedVerify/" + name).c_str(), BM_UncheckedVerify, &csr)
          ->Unit(benchmark::kMillisecond);
    }
    return run();
  });
}

}  // namespace
}  // namespace sitechain

int main(int argc, char** argv) { return sitechain::Main(argc, argv); }
