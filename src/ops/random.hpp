// SPDX-License-Identifier: Apache-2.0
// src/ops/random.hpp — lamina's seeded, counter-based random stream. Element i of a draw is a
// pure function of (seed, stream offset + i), so results do not depend on the thread count or on
// how work is split.
#pragma once

#include <cstdint>

namespace lamina::random {

/// Reserves `count` consecutive counters and returns the first.
std::uint64_t reserve(std::uint64_t count);
std::uint64_t seed();
/// 64 random bits for counter `c` (SplitMix64 over seed ^ counter).
std::uint64_t bits(std::uint64_t c);
/// Uniform in [0, 1) with 53 random bits.
inline double uniform01(std::uint64_t c) { return (bits(c) >> 11) * (1.0 / 9007199254740992.0); }
/// Standard normal (Box-Muller) from counters c and c + 1: reserve two counters per draw.
double normal(std::uint64_t c);

/// State for save/restore (seed, counter).
struct State { std::uint64_t seed, counter; };
State get_state();
void set_state(State s);

}  // namespace lamina::random
