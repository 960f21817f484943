#pragma once
/// \file npy.hpp
/// Reading and writing NumPy `.npy` arrays of float32 / float64 (format versions 1.0–3.0).

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace lipschitz {

/// A file that is missing, unreadable, truncated or not a supported `.npy` array. The message
/// names the file and what was wrong in it.
class NpyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An array read from a `.npy` file, values widened to double (exact for float32).
struct NpyArray {
  std::vector<std::int64_t> shape;  ///< row-major (C order) shape
  std::vector<double> data;         ///< product(shape) values
  std::string dtype;                ///< "float32" or "float64", as stored
};

/// Reads a C-ordered float32 or float64 array (either byte order). Throws NpyError for
/// anything else: wrong magic, unsupported dtype, Fortran order, a size the file does not hold.
NpyArray read_npy(const std::string& path);

/// Writes a float64 (or, with `as_float32`, float32) C-ordered array atomically: to a temporary
/// file in the same directory, then renamed over `path`. Throws NpyError on I/O failure.
void write_npy(const std::string& path, const std::vector<std::int64_t>& shape,
               const std::vector<double>& data, bool as_float32 = false);

}  // namespace lipschitz
