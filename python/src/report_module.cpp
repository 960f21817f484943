// lipschitz._report: `lipschitz report` for Python (links LibTorch; imported only by
// lipschitz.network_bound). It runs make_report(), the function behind the command line, and
// returns the report's JSON object as text, so both answer the same for the same model.

#include <report/make_report.hpp>
#include <report/model_import.hpp>

#include <c10/util/Exception.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;
using namespace lipschitz;
using namespace lipschitz::report;

namespace {

std::string network_report(const std::string& path, std::optional<std::vector<Index>> input_shape,
                           std::optional<py::array_t<double, py::array::c_style | py::array::forcecast>> data,
                           const std::string& data_name, double tolerance, bool double_precision,
                           const std::string& bound, double bound_seconds,
                           const std::string& domain, bool lower_bound, int samples,
                           int ascent_steps, unsigned long long seed, double lower_bound_seconds,
                           int threads) {
  ReportOptions options;
  if (input_shape) options.input_shape = Shape(input_shape->begin(), input_shape->end());
  if (data) {
    NpyArray array;
    for (py::ssize_t d = 0; d < data->ndim(); ++d) array.shape.push_back(data->shape(d));
    array.data.assign(data->data(), data->data() + data->size());
    array.dtype = "float64";
    options.data = std::move(array);
    options.data_name = data_name;
  }
  options.tolerance = tolerance;
  options.double_precision = double_precision;
  options.method = bound_method_from_string(bound);
  options.bound_seconds = bound_seconds;
  options.domain = domain;
  options.lower_bound = lower_bound;
  options.lower.random_inputs = samples;
  options.lower.ascent_steps = ascent_steps;
  options.lower.seed = seed;
  options.lower.time_budget = lower_bound_seconds;
  options.threads = threads;
  py::gil_scoped_release release;
  return format_json(make_report(path, options));
}

}  // namespace

PYBIND11_MODULE(_report, m) {
  m.doc() = "lipschitz report for Python (see lipschitz.network_bound)";
  py::register_exception<ImportError>(m, "ModelError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const c10::Error& e) {  // LibTorch's, without its C++ backtrace
      const std::string what = e.what_without_backtrace();
      PyErr_SetString(PyExc_RuntimeError, what.substr(0, what.find('\n')).c_str());
    }
  });
  m.def("network_report", &network_report, py::arg("path"), py::arg("input_shape"),
        py::arg("data"), py::arg("data_name"), py::arg("tolerance"),
        py::arg("double_precision"), py::arg("bound"), py::arg("bound_seconds"),
        py::arg("domain"), py::arg("lower_bound"), py::arg("samples"),
        py::arg("ascent_steps"), py::arg("seed"), py::arg("lower_bound_seconds"),
        py::arg("threads"));
}
