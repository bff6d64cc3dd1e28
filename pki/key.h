#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/random.h"
#include "common/result.h"

namespace sitechain::pki {

enum class KeyType { kEd25519, kEcdsaP256, kRsa2048, kRsa3072 };

// "ed25519", "ecdsa-p256", "rsa-2048", "rsa-3072".
std::string_view KeyTypeName(KeyType type);
Result<KeyType> ParseKeyType(std::string_view name);

// PBKDF2 iterations used to encrypt key files: fixed, so loading takes milliseconds rather than
// the ~300 ms of Botan's time-tuned default.
inline constexpr size_t kKeyFilePbkdfIterations = 100000;

// A private key of one of the supported types. Move-only; the key material never leaves pki/
// except as a PKCS#8 PEM string the caller asked for. Do not keep one in static storage: Botan's
// locked-memory pool is torn down before static destructors run, and freeing the key then
// crashes.
class PrivateKey final {
 public:
  ~PrivateKey();
  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;

  static PrivateKey Generate(KeyType type, Random& rng);

  // PKCS#8 PEM; encrypted (PBES2, AES-256-CBC, PBKDF2-SHA256, fixed iterations) if a
  // non-empty passphrase is given. Refuses keys of unsupported types with INVALID_ARGUMENT.
  std::string ToPem(const std::optional<std::string>& passphrase, Random& rng) const;
  static Result<PrivateKey> FromPem(std::string_view pem,
                                    const std::optional<std::string>& passphrase);

  // Writes the key file atomically with mode 0600; refuses to overwrite unless asked.
  Status Save(const std::string& path, const std::optional<std::string>& passphrase, Random& rng,
              bool overwrite = false) const;
  // Loads a key file. Errors: NOT_FOUND; PERMISSION_DENIED if group or others may read it
  // (with the chmod that fixes it); UNAUTHENTICATED for a missing or wrong passphrase;
  // DATA_LOSS for a truncated or corrupted file.
  static Result<PrivateKey> Load(const std::string& path,
                                 const std::optional<std::string>& passphrase);

  KeyType type() const { return type_; }
  // DER SubjectPublicKeyInfo of the public half.
  std::vector<uint8_t> PublicKeyDer() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }  // for pki/ internals only

 private:
  PrivateKey(KeyType type, std::unique_ptr<Impl> impl);
  KeyType type_;
  std::unique_ptr<Impl> impl_;
};

// Classifies a DER SubjectPublicKeyInfo as one of the supported key types, or INVALID_ARGUMENT
// (e.g. RSA-1024, a curve other than P-256, a malformed key).
Result<KeyType> PublicKeyType(const std::vector<uint8_t>& spki_der);

// Signs / verifies raw messages with a key's default scheme (Ed25519, ECDSA-SHA256,
// RSA-PKCS#1v1.5-SHA256). Used by benchmarks to measure the raw crypto limit.
std::vector<uint8_t> SignMessage(const PrivateKey& key, std::string_view message, Random& rng);
bool VerifyMessage(const std::vector<uint8_t>& spki_der, std::string_view message,
                   const std::vector<uint8_t>& signature);

}  // namespace sitechain::pki
