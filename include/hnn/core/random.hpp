// Random number generation: hnn::Generator (xoshiro256** seeded through splitmix64, so streams are the
// same on every platform), uniform and normal draws, and the default generator that manual_seed seeds.
// Depends on the standard library only.
#pragma once

#include <cmath>
#include <cstdint>

namespace hnn {

class Generator {
 public:
  explicit Generator(uint64_t seed = 67280421310721ULL) { manual_seed(seed); }

  void manual_seed(uint64_t seed) {
    seed_ = seed;
    uint64_t z = seed;
    for (auto& s : state_) s = splitmix64(z);
    has_cached_normal_ = false;
  }
  uint64_t initial_seed() const { return seed_; }

  uint64_t next_u64() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  /// Standard normal by Box-Muller; the second value of each pair is kept for the next call.
  double normal() {
    if (has_cached_normal_) {
      has_cached_normal_ = false;
      return cached_normal_;
    }
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    double r = std::sqrt(-2.0 * std::log(u1)), theta = 2.0 * 3.14159265358979323846 * u2;
    cached_normal_ = r * std::sin(theta);
    has_cached_normal_ = true;
    return r * std::cos(theta);
  }

  /// Uniform integer in [0, n) without modulo bias.
  uint64_t random_below(uint64_t n) {
    if (n <= 1) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do v = next_u64();
    while (v >= limit);
    return v % n;
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  uint64_t seed_ = 0;
  uint64_t state_[4] = {};
  double cached_normal_ = 0.0;
  bool has_cached_normal_ = false;
};

/// The process-wide generator used by every overload that takes no Generator.
inline Generator& default_generator() {
  static Generator gen;
  return gen;
}

/// Seeds the default generator (like torch.manual_seed).
inline void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace hnn
