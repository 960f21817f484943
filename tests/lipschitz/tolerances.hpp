#pragma once
// Test helper: named tolerances, scaled from machine epsilon where they come from rounding.

#include <limits>

namespace lipschitz::test {

/// Double precision: exact values within 1e-6 relative to σ₁ (the contract).
constexpr double kDoubleTol = 1e-6;
/// Float: a few hundred ε_float relative to σ₁ for values computed through the SVD.
constexpr double kFloatTol = 512 * std::numeric_limits<float>::epsilon();
/// Float through the Gram matrix: tiny σ come from √λ, so their absolute error is ~√ε_float·σ₁.
constexpr double kFloatGramTol = 16 * 3.4527e-4;  // 16·√ε_float
/// Slack allowed when checking that a certified bound holds against a dense double SVD
/// (the reference itself carries ~1e-13 relative error).
constexpr double kReferenceSlack = 1e-11;

}  // namespace lipschitz::test
