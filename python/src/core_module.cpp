// lipschitz._core: the math core for Python (no LibTorch). The Python side (lipschitz/conv.py)
// normalises arguments and wraps results; this file only moves arrays in and JSON out.

#include <lipschitz/conv_json.hpp>
#include <lipschitz/conv_norm.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace py = pybind11;
using namespace lipschitz;

namespace {

Extent extent(const std::pair<Index, Index>& p) { return {p.first, p.second}; }

// The shape part of a layer's spec, from its weight in PyTorch's layout.
ConvSpec weight_spec(const py::array& weight) {
  if (weight.ndim() != 3 && weight.ndim() != 4)
    throw std::invalid_argument(
        "expected a 3-D (1-D convolution) or 4-D (2-D convolution) weight, got " +
        std::to_string(weight.ndim()) + " dimensions");
  for (py::ssize_t d = 0; d < weight.ndim(); ++d)
    if (weight.shape(d) < 1) throw std::invalid_argument("the weight has an empty dimension");
  ConvSpec spec;
  spec.spatial_dims = int(weight.ndim()) - 2;
  spec.weight_dim0 = weight.shape(0);
  spec.weight_dim1 = weight.shape(1);
  spec.kernel = spec.spatial_dims == 1 ? Extent{1, weight.shape(2)}
                                       : Extent{weight.shape(2), weight.shape(3)};
  return spec;
}

// Analyses one layer. Returns (the CLI's JSON object as text, the singular values, the address
// of the weight buffer the engine read). A C-contiguous float32 or float64 array is read in
// place when its dtype is the compute precision's (float64 with "double", either with "float");
// anything else is converted once. The GIL is released while the engine runs.
// reshaped_weight_norm is left out of the JSON (null): the Python side computes it with
// reshaped_norm() when asked, since it can cost a third of a wide layer's analysis.
std::tuple<std::string, py::array_t<double>, std::uintptr_t> conv_analyze(
    py::array weight, std::pair<Index, Index> input, std::pair<Index, Index> stride,
    std::pair<Index, Index> padding, std::pair<Index, Index> dilation, Index groups,
    const std::string& padding_mode, bool transposed, double tolerance, bool all_values,
    const std::string& precision, int threads, Index dense_limit, const std::string& gram_source,
    double max_memory_bytes) {
  if (precision != "double" && precision != "float")
    throw std::invalid_argument("precision must be 'double' or 'float', got '" + precision + "'");
  ConvSpec spec = weight_spec(weight);
  spec.input = extent(input);
  spec.stride = extent(stride);
  spec.padding = extent(padding);
  spec.dilation = extent(dilation);
  spec.groups = groups;
  spec.padding_mode = padding_mode_from_string(padding_mode);
  spec.transposed = transposed;
  validate(spec);

  ConvNormOptions options;
  options.tolerance = tolerance;
  options.all_singular_values = all_values;
  options.threads = threads;
  options.dense_limit = dense_limit;
  options.gram_source = gram_source_from_string(gram_source);
  options.max_memory_bytes = max_memory_bytes;
  if (!(tolerance >= 0) || tolerance >= 1)
    throw std::invalid_argument("tolerance must be in [0, 1), got " + std::to_string(tolerance));
  if (threads < 0) throw std::invalid_argument("threads must be 0 (all cores) or positive");
  if (precision == "float" && options.gram_source == GramSource::taps)
    throw std::invalid_argument("gram_source 'taps' computes in double: use precision 'double'");

  const bool contiguous = (weight.flags() & py::array::c_style) != 0;
  const bool is_f32 = contiguous && py::isinstance<py::array_t<float>>(weight);
  const bool is_f64 = contiguous && py::isinstance<py::array_t<double>>(weight);
  py::array_t<double, py::array::c_style | py::array::forcecast> converted;
  const double* f64 = nullptr;
  const float* f32 = nullptr;
  if (precision == "float" && is_f32)
    f32 = static_cast<const float*>(weight.data());
  else if (is_f64)
    f64 = static_cast<const double*>(weight.data());
  else {
    converted = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(weight);
    if (!converted) throw std::invalid_argument("the weight must be an array of real numbers");
    f64 = converted.data();
  }

  ConvNormResult r;
  {
    py::gil_scoped_release release;
    if (f32)
      r = analyze_conv<float>(spec, f32, options);
    else
      r = precision == "float" ? analyze_conv_in<float>(spec, f64, options)
                               : analyze_conv<double>(spec, f64, options);
  }
  const double reshaped = std::numeric_limits<double>::quiet_NaN();  // written as null
  std::ostringstream json;
  write_conv_json(json, spec, r, reshaped, precision, options, false);
  py::array_t<double> values(py::ssize_t(r.singular_values.size()));
  std::copy(r.singular_values.begin(), r.singular_values.end(), values.mutable_data());
  const void* read = f32 ? static_cast<const void*>(f32) : static_cast<const void*>(f64);
  return {json.str(), values, reinterpret_cast<std::uintptr_t>(read)};
}

// σ₁ of the weight reshaped as torch.nn.utils.spectral_norm does (reshaped_weight_norm()), with
// the GIL released; a C-contiguous float32 array in float, anything else as float64.
double reshaped_norm(py::array weight, bool transposed, int threads) {
  ConvSpec spec = weight_spec(weight);  // only the weight's shape matters: a valid layer around it
  spec.input = spec.kernel;
  spec.transposed = transposed;
  if ((weight.flags() & py::array::c_style) && py::isinstance<py::array_t<float>>(weight)) {
    const float* data = static_cast<const float*>(weight.data());
    py::gil_scoped_release release;
    return reshaped_weight_norm(spec, data, threads);
  }
  const auto converted = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(weight);
  if (!converted) throw std::invalid_argument("the weight must be an array of real numbers");
  const double* data = converted.data();
  py::gil_scoped_release release;
  return reshaped_weight_norm(spec, data, threads);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "lipschitz's math core (see the package lipschitz for the documented functions)";
  py::register_exception<ResourceError>(m, "ResourceError", PyExc_MemoryError);
  m.def("conv_analyze", &conv_analyze, py::arg("weight"), py::arg("input"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("padding_mode"),
        py::arg("transposed"), py::arg("tolerance"), py::arg("all_values"),
        py::arg("precision"), py::arg("threads"), py::arg("dense_limit"),
        py::arg("gram_source"), py::arg("max_memory_bytes"));
  m.def("reshaped_norm", &reshaped_norm, py::arg("weight"), py::arg("transposed"),
        py::arg("threads"));
}
