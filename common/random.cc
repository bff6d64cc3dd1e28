#include "common/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace sitechain {

uint64_t Random::Uniform(uint64_t bound) {
  // Rejection sampling so every value in [0, bound) is equally likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  for (;;) {
    uint64_t v;
    Fill(reinterpret_cast<uint8_t*>(&v), sizeof v);
    if (v < limit) return v % bound;
  }
}

void SystemRandom::Fill(uint8_t* out, size_t n) {
  while (n > 0) {
    ssize_t got = getrandom(out, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      std::abort();  // the kernel CSPRNG failing is not an expected failure
    }
    out += got;
    n -= static_cast<size_t>(got);
  }
}

namespace {
uint64_t SplitMix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

SeededRandom::SeededRandom(uint64_t seed) {
  for (auto& s : s_) s = SplitMix(seed);
}

uint64_t SeededRandom::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

void SeededRandom::Fill(uint8_t* out, size_t n) {
  std::lock_guard lock(mu_);
  while (n > 0) {
    uint64_t v = Next();
    size_t k = n < sizeof v ? n : sizeof v;
    std::memcpy(out, &v, k);
    out += k;
    n -= k;
  }
}

}  // namespace sitechain
