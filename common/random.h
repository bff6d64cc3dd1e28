#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>

namespace sitechain {

// Random is the only source of randomness in sitechain: keys, serial numbers, jitter. Inject it
// so tests and the simulator are reproducible. Implementations are thread-safe.
class Random {
 public:
  virtual ~Random() = default;
  // Fills out[0, n) with random bytes.
  virtual void Fill(uint8_t* out, size_t n) = 0;

  // A uniformly distributed integer in [0, bound); bound must be > 0.
  uint64_t Uniform(uint64_t bound);
};

// The operating system's CSPRNG (getrandom(2)). Use for keys and serials in production.
class SystemRandom final : public Random {
 public:
  void Fill(uint8_t* out, size_t n) override;
};

// A deterministic generator (xoshiro256** seeded by splitmix64). Reproducible, NOT secure: for
// tests, benchmarks and the simulator only, never for production keys.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed);
  void Fill(uint8_t* out, size_t n) override;

 private:
  uint64_t Next();  // requires mu_
  std::mutex mu_;
  uint64_t s_[4];  // guarded by mu_
};

}  // namespace sitechain
