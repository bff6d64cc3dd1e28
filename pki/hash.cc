#include "pki/hash.h"

#include <botan/hash.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/hex.h"

namespace sitechain::pki {
namespace {

constexpr size_t kChunk = 256 * 1024;

std::unique_ptr<Botan::HashFunction> MakeHash(HashAlgorithm alg) {
  return Botan::HashFunction::create_or_throw(alg == HashAlgorithm::kSha256 ? "SHA-256"
                                                                            : "SHA-512");
}

}  // namespace

std::string_view HashAlgorithmName(HashAlgorithm alg) {
  return alg == HashAlgorithm::kSha256 ? "sha256" : "sha512";
}

Result<HashAlgorithm> ParseHashAlgorithm(std::string_view name) {
  if (name == "sha256" || name == "sha-256" || name == "SHA-256") return HashAlgorithm::kSha256;
  if (name == "sha512" || name == "sha-512" || name == "SHA-512") return HashAlgorithm::kSha512;
  return InvalidArgument("unknown hash algorithm '" + std::string(name) +
                         "': use sha256 (default) or sha512");
}

size_t DigestSize(HashAlgorithm alg) { return alg == HashAlgorithm::kSha256 ? 32 : 64; }

std::string Digest::Hex() const { return HexEncode(bytes); }

struct Hasher::Impl {
  std::unique_ptr<Botan::HashFunction> fn;
};

Hasher::Hasher(HashAlgorithm alg) : alg_(alg), impl_(new Impl{MakeHash(alg)}) {}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::Update(const uint8_t* data, size_t n) {
  impl_->fn->update(data, n);
  bytes_ += n;
}

void Hasher::Update(std::string_view data) {
  Update(reinterpret_cast<const uint8_t*>(data.data()), data.size());
}

Digest Hasher::Final() {
  Digest d{alg_, {}};
  d.bytes.resize(impl_->fn->output_length());
  impl_->fn->final(d.bytes.data());
  bytes_ = 0;
  return d;
}

Digest HashBytes(HashAlgorithm alg, std::string_view data) {
  Hasher h(alg);
  h.Update(data);
  return h.Final();
}

Result<Digest> HashFd(HashAlgorithm alg, int fd) {
  Hasher h(alg);
  std::unique_ptr<uint8_t[]> buf(new uint8_t[kChunk]);
  off_t offset = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf.get(), kChunk, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Unavailable(std::string("cannot read the executable: ") + std::strerror(errno));
    }
    if (n == 0) break;
    h.Update(buf.get(), static_cast<size_t>(n));
    offset += n;
  }
  return h.Final();
}

Result<Digest> HashFile(HashAlgorithm alg, const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string msg = "cannot open " + path + ": " + std::strerror(err);
    return err == ENOENT ? NotFound(msg) : Unavailable(msg);
  }
  Result<Digest> d = HashFd(alg, fd);
  ::close(fd);
  if (!d.ok()) return d.status().WithContext(path);
  return d;
}

}  // namespace sitechain::pki
