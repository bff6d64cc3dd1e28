#include "pki/key.h"

#include <botan/ber_dec.h>
#include <botan/data_src.h>
#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/ed25519.h>
#include <botan/numthry.h>
#include <botan/pem.h>
#include <botan/pkcs8.h>
#include <botan/pubkey.h>
#include <botan/rsa.h>
#include <botan/x509_key.h>

#include "common/files.h"
#include "pki/internal.h"
#include "pki/key_parameters.h"

namespace sitechain::pki {
namespace {

constexpr size_t kMaxKeyFileBytes = 16 * 1024;

// The signature padding Botan uses for each algorithm, hashing with SHA-256.
std::string Padding(const std::string& algo) {
  if (algo == "Ed25519") return "Pure";
  if (algo == "RSA") return "EMSA3(SHA-256)";
  return "EMSA1(SHA-256)";
}

// A key file whose parts do not fit together — a flipped bit in an RSA factor, exponent or CRT
// value, an EC public point that is not the private scalar's — loads, and then makes signatures
// that do not verify, or makes Botan throw in the middle of one (its RSA consistency check).
// Such a key is refused at load. Deterministic arithmetic only: no randomness, no prime tests
// (a damaged factor no longer multiplies to n).
Status CheckKeyConsistent(const Botan::Private_Key& key) {
  try {
    if (const auto* rsa = dynamic_cast<const Botan::RSA_PrivateKey*>(&key)) {
      const Botan::BigInt &n = rsa->get_n(), &e = rsa->get_e(), &d = rsa->get_d();
      const Botan::BigInt &p = rsa->get_p(), &q = rsa->get_q();
      const bool ok = p > 2 && q > 2 && p != q && p * q == n && e > 2 && e.is_odd() && d > 1 &&
                      rsa->get_d1() == d % (p - 1) && rsa->get_d2() == d % (q - 1) &&
                      rsa->get_c() == Botan::inverse_mod(q, p) &&
                      (e * d) % Botan::lcm(p - 1, q - 1) == 1;
      if (!ok) return DataLoss("the RSA key's numbers do not fit together (corrupted?)");
    } else if (const auto* ec = dynamic_cast<const Botan::ECDSA_PrivateKey*>(&key)) {
      const Botan::BigInt& x = ec->private_value();
      const Botan::EC_Group& group = ec->domain();
      if (x <= 0 || x >= group.get_order() || group.get_base_point() * x != ec->public_point()) {
        return DataLoss("the EC key's public point is not its private scalar's (corrupted?)");
      }
    }
  } catch (const std::exception& e) {
    return DataLoss(std::string("the key's numbers cannot be checked (corrupted?): ") + e.what());
  }
  return Status::Ok();
}

}  // namespace

std::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kEd25519:
      return "ed25519";
    case KeyType::kEcdsaP256:
      return "ecdsa-p256";
    case KeyType::kRsa2048:
      return "rsa-2048";
    case KeyType::kRsa3072:
      return "rsa-3072";
  }
  return "unknown";
}

Result<KeyType> ParseKeyType(std::string_view name) {
  for (KeyType t : {KeyType::kEd25519, KeyType::kEcdsaP256, KeyType::kRsa2048, KeyType::kRsa3072}) {
    if (name == KeyTypeName(t)) return t;
  }
  return InvalidArgument("unknown key type '" + std::string(name) +
                         "': use ed25519 (default), ecdsa-p256, rsa-2048 or rsa-3072");
}

PrivateKey::PrivateKey(KeyType type, std::unique_ptr<Impl> impl)
    : type_(type), impl_(std::move(impl)) {}
PrivateKey::~PrivateKey() = default;
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;

PrivateKey PrivateKey::Generate(KeyType type, Random& rng) {
  internal::RngAdapter brng(rng);
  auto impl = std::make_unique<Impl>();
  switch (type) {
    case KeyType::kEd25519:
      impl->key = std::make_unique<Botan::Ed25519_PrivateKey>(brng);
      break;
    case KeyType::kEcdsaP256:
      impl->key = std::make_unique<Botan::ECDSA_PrivateKey>(brng, Botan::EC_Group("secp256r1"));
      break;
    case KeyType::kRsa2048:
      impl->key = std::make_unique<Botan::RSA_PrivateKey>(brng, 2048);
      break;
    case KeyType::kRsa3072:
      impl->key = std::make_unique<Botan::RSA_PrivateKey>(brng, 3072);
      break;
  }
  return PrivateKey(type, std::move(impl));
}

std::string PrivateKey::ToPem(const std::optional<std::string>& passphrase, Random& rng) const {
  if (!passphrase || passphrase->empty()) return Botan::PKCS8::PEM_encode(*impl_->key);
  internal::RngAdapter brng(rng);
  return Botan::PKCS8::PEM_encode_encrypted_pbkdf_iter(
      *impl_->key, brng, *passphrase, kKeyFilePbkdfIterations, "AES-256/CBC", "SHA-256");
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem,
                                       const std::optional<std::string>& passphrase) {
  const bool encrypted =
      pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos;
  if (encrypted && (!passphrase || passphrase->empty())) {
    return Unauthenticated("the key is encrypted: give its passphrase (--passphrase-file)");
  }
  if (encrypted) {
    // Tell a damaged file from a wrong passphrase: the armor and the outer
    // EncryptedPrivateKeyInfo must decode before decryption is even tried.
    try {
      Botan::DataSource_Memory armored{std::string(pem)};
      auto der = Botan::PEM_Code::decode_check_label(armored, "ENCRYPTED PRIVATE KEY");
      Botan::AlgorithmIdentifier alg;
      Botan::secure_vector<uint8_t> body;
      Botan::BER_Decoder(der)
          .start_cons(Botan::SEQUENCE)
          .decode(alg)
          .decode(body, Botan::OCTET_STRING)
          .end_cons()
          .verify_end();
    } catch (const std::exception& e) {
      return DataLoss(std::string("the encrypted key is truncated or corrupted: ") + e.what());
    }
  }
  std::unique_ptr<Botan::Private_Key> key;
  try {
    Botan::DataSource_Memory src{std::string(pem)};
    key = encrypted ? Botan::PKCS8::load_key(src, *passphrase) : Botan::PKCS8::load_key(src);
  } catch (const std::exception& e) {
    if (encrypted) {
      return Unauthenticated("cannot decrypt the key: wrong passphrase, or the file is corrupted");
    }
    return DataLoss(std::string("not a valid PKCS#8 PEM private key (truncated or corrupted?): ") +
                    e.what());
  }
  SITECHAIN_ASSIGN_OR_RETURN(KeyType type, internal::ClassifyKey(*key));
  SITECHAIN_RETURN_IF_ERROR(CheckKeyConsistent(*key));
  auto impl = std::make_unique<Impl>();
  impl->key = std::move(key);
  return PrivateKey(type, std::move(impl));
}

Status PrivateKey::Save(const std::string& path, const std::optional<std::string>& passphrase,
                        Random& rng, bool overwrite) const {
  return WriteFileAtomic(path, ToPem(passphrase, rng), 0600, overwrite);
}

Result<PrivateKey> PrivateKey::Load(const std::string& path,
                                    const std::optional<std::string>& passphrase) {
  SITECHAIN_ASSIGN_OR_RETURN(mode_t mode, FileMode(path));
  if (mode & 077) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return PermissionDenied("key file " + path + " has mode " + buf +
                            ": group and others must not read it; run chmod 600 " + path);
  }
  SITECHAIN_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(path, kMaxKeyFileBytes));
  Result<PrivateKey> key = FromPem(pem, passphrase);
  if (!key.ok()) return key.status().WithContext("key file " + path);
  return key;
}

std::vector<uint8_t> PrivateKey::PublicKeyDer() const { return impl_->key->subject_public_key(); }

Result<KeyType> PublicKeyType(const std::vector<uint8_t>& spki_der) {
  SITECHAIN_RETURN_IF_ERROR(CheckKeyParameters(spki_der).status());
  auto key = internal::LoadPublicKey(spki_der);
  if (!key) return InvalidArgument("not a valid SubjectPublicKeyInfo");
  return internal::ClassifyKey(*key);
}

std::vector<uint8_t> SignMessage(const PrivateKey& key, std::string_view message, Random& rng) {
  internal::RngAdapter brng(rng);
  const Botan::Private_Key& k = *key.impl().key;
  Botan::PK_Signer signer(k, brng, Padding(k.algo_name()));
  return signer.sign_message(reinterpret_cast<const uint8_t*>(message.data()), message.size(),
                             brng);
}

bool VerifyMessage(const std::vector<uint8_t>& spki_der, std::string_view message,
                   const std::vector<uint8_t>& signature) {
  auto key = internal::LoadPublicKey(spki_der);
  if (!key) return false;
  try {
    Botan::PK_Verifier verifier(*key, Padding(key->algo_name()));
    return verifier.verify_message(reinterpret_cast<const uint8_t*>(message.data()), message.size(),
                                   signature.data(), signature.size());
  } catch (const std::exception&) {
    return false;
  }
}

namespace internal {
Result<KeyType> ClassifyKey(const Botan::Public_Key& key) {
  const std::string algo = key.algo_name();
  if (algo == "Ed25519") return KeyType::kEd25519;
  if (algo == "ECDSA") {
    const auto& ec = dynamic_cast<const Botan::EC_PublicKey&>(key);
    if (ec.domain() == Botan::EC_Group("secp256r1")) return KeyType::kEcdsaP256;
    return InvalidArgument("ECDSA keys must use the P-256 curve");
  }
  if (algo == "RSA") {
    const size_t bits = key.key_length();
    if (dynamic_cast<const Botan::RSA_PublicKey&>(key).get_e() != kRsaPublicExponent) {
      return InvalidArgument("RSA keys must have the public exponent " +
                             std::to_string(kRsaPublicExponent));
    }
    if (bits == 2048) return KeyType::kRsa2048;
    if (bits == 3072) return KeyType::kRsa3072;
    return InvalidArgument("RSA keys must be 2048 or 3072 bits, not " + std::to_string(bits));
  }
  return InvalidArgument("unsupported key algorithm " + algo +
                         " (use ed25519, ecdsa-p256, rsa-2048 or rsa-3072)");
}

std::unique_ptr<Botan::Public_Key> LoadPublicKey(const std::vector<uint8_t>& spki_der) {
  // Every public key sitechain uses comes through here: its parameters are checked before Botan
  // builds a key object (for RSA, before its Montgomery setup and any exponentiation).
  if (!CheckKeyParameters(spki_der).ok()) return nullptr;
  try {
    return std::unique_ptr<Botan::Public_Key>(Botan::X509::load_key(spki_der));
  } catch (const std::exception&) {
    return nullptr;
  }
}
}  // namespace internal

}  // namespace sitechain::pki
