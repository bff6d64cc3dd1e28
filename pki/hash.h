#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace sitechain::pki {

enum class HashAlgorithm { kSha256, kSha512 };

// "sha256" / "sha512": the names CLIs accept and print.
std::string_view HashAlgorithmName(HashAlgorithm alg);
Result<HashAlgorithm> ParseHashAlgorithm(std::string_view name);
// Digest length in bytes (32 or 64).
size_t DigestSize(HashAlgorithm alg);

struct Digest {
  HashAlgorithm algorithm = HashAlgorithm::kSha256;
  std::vector<uint8_t> bytes;

  std::string Hex() const;
  bool operator==(const Digest&) const = default;
};

// Incremental hashing, for data that arrives in pieces (an upload stream). Not thread-safe.
class Hasher final {
 public:
  explicit Hasher(HashAlgorithm alg);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;

  void Update(const uint8_t* data, size_t n);
  void Update(std::string_view data);
  // Returns the digest and resets the hasher.
  Digest Final();
  uint64_t bytes_hashed() const { return bytes_; }

 private:
  HashAlgorithm alg_;
  uint64_t bytes_ = 0;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Digest HashBytes(HashAlgorithm alg, std::string_view data);

// Hashes the file at path in fixed-size chunks (never the whole file in memory).
Result<Digest> HashFile(HashAlgorithm alg, const std::string& path);

// Hashes everything in the open file descriptor from offset 0 with pread(2), so the descriptor's
// own offset is left as it was: the caller can exec the very descriptor it hashed.
Result<Digest> HashFd(HashAlgorithm alg, int fd);

}  // namespace sitechain::pki
