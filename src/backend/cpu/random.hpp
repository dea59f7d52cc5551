// SPDX-License-Identifier: Apache-2.0
// src/backend/cpu/random.hpp — random draws from the counter-based generator Philox4x32-10
// (Salmon, Moraes, Dror & Shaw, SC'11; Random123's implementation).
//
// Value i of a draw is a pure function of (key, stream, offset, i): Philox encrypts the 128-bit
// counter {lo32(c), hi32(c), attempt, stream} under the 64-bit key, with c = offset + ⌊i/K⌋ for
// a kind that takes K values from a block (K = 1 for uniforms, integers and permutations, 2 for
// normals, 4 for dropout masks; truncated_normal's redraws bump `attempt`). A draw of n values
// uses counters(n, K) counters. So no value depends on the thread count or on how the range is
// split, and another device that evaluates the same formulas gets the same numbers: every formula
// below uses only integer operations and IEEE-exact +, −, ×, ÷, √ (the logarithm, sine and cosine
// are lamina's own series, not the C library's, whose last bit varies between versions and CPUs).
#pragma once

#include <array>
#include <cstdint>

#include "backend/philox.hpp"

namespace lamina::cpu {

using backend::counters;
using backend::kMaskBitsPerBlock;
using backend::kNormalsPerBlock;
using backend::kUniformsPerBlock;
using backend::philox4x32_10;
using backend::PhiloxPlace;
using backend::random_bits;

/// out[i] = lo + (hi − lo)·u, u = (bits_i >> 11)·2⁻⁵³ in [0, 1), computed in double and rounded to T;
/// a value that rounds up to hi is replaced by the largest T below hi (hi == lo gives lo).
template <class T>
void random_uniform(const PhiloxPlace& place, std::int64_t n, double lo, double hi, T* out);

/// out[i] = mean + stddev·z_i, Box–Muller on block offset + ⌊i/2⌋: u1 = ((w0,w1) >> 11 + 1)·2⁻⁵³ in
/// (0, 1], u2 = ((w2,w3) >> 11)·2⁻⁵³ in [0, 1), r = √(−2 ln u1); z_i = r·cos(2π u2) for even i,
/// r·sin(2π u2) for odd i (two independent normals per block); |z| <= 8.58.
template <class T>
void random_normal(const PhiloxPlace& place, std::int64_t n, double mean, double stddev, T* out);

/// Keras's truncated normal: z_i as random_normal's, redrawn while |z_i| > 2; redraw k of value i
/// takes the same half of block {offset + ⌊i/2⌋, attempt k}, so it stays a function of i alone.
template <class T>
void truncated_normal(const PhiloxPlace& place, std::int64_t n, double mean, double stddev, T* out);

/// Dropout's keep mask, 32 bits per value (dropout runs every training step): value i is word
/// w = i mod 4 of block offset + ⌊i/4⌋, mask[i] = 1 when w >= rate·2³² (u = w·2⁻³² >= rate), else 0.
void bernoulli_mask(const PhiloxPlace& place, std::int64_t n, double rate, std::uint8_t* mask);

/// y[i] = mask[i] ? x[i]·scale : 0 (dropout's forward after the mask, and its backward).
template <class T>
void masked_scale(std::int64_t n, const std::uint8_t* mask, double scale, const T* x, T* y);

/// out[i] uniform in [lo, hi): lo + ⌊bits_i·(hi − lo) / 2⁶⁴⌋ (Lemire's multiply-shift; its bias,
/// at most (hi − lo)/2⁶⁴, is below anything measurable). Needs lo < hi.
void random_integers(const PhiloxPlace& place, std::int64_t n, std::int64_t lo, std::int64_t hi,
                     std::int64_t* out);

/// A uniform permutation of 0..n−1: Fisher–Yates from the last position down, position i
/// swapping with j_i uniform in [0, i], j_i from element i of the place (drawn in parallel; the
/// swaps then run in order).
void random_permutation(const PhiloxPlace& place, std::int64_t n, std::int64_t* out);

}  // namespace lamina::cpu
