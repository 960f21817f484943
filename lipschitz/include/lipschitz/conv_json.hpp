#pragma once
/// \file conv_json.hpp
/// A convolution layer's analysis as the JSON object `lipschitz conv --json` prints; the Python
/// module's `to_dict()` is the same object (docs/cli.md lists the keys).
#include <lipschitz/conv_norm.hpp>

#include <ostream>
#include <string>

namespace lipschitz {

/// Writes one JSON object (no newline). `precision` is "double" or "float"; `reshaped` is
/// reshaped_weight_norm(). `singular_values` false leaves that key out even when the result
/// has them (a caller that hands them over as an array).
void write_conv_json(std::ostream& out, const ConvSpec& spec, const ConvNormResult& result,
                     double reshaped, const std::string& precision,
                     const ConvNormOptions& options, bool singular_values = true);

}  // namespace lipschitz
