// The JSON object of `lipschitz conv --json`, shared with the Python module.

#include <lipschitz/conv_json.hpp>
#include <lipschitz/json_writer.hpp>

#include <cmath>
#include <vector>

namespace lipschitz {

void write_conv_json(std::ostream& out, const ConvSpec& spec, const ConvNormResult& r,
                     double reshaped, const std::string& precision,
                     const ConvNormOptions& options, bool singular_values) {
  const int nd = spec.spatial_dims;
  auto shape = [nd](Index c, const Extent& e) {
    std::vector<long long> s{static_cast<long long>(c)};
    if (nd == 2) s.push_back(e[0]);
    s.push_back(e[1]);
    return s;
  };
  auto ext = [nd](const Extent& e) {
    return nd == 1 ? std::vector<long long>{e[1]} : std::vector<long long>{e[0], e[1]};
  };
  JsonWriter j(out);
  j.begin_object();
  j.key("spectral_norm").value(r.spectral_norm);
  j.key("lower_bound").value(r.lower_bound);
  j.key("upper_bound").value(r.upper_bound);
  j.key("exact").value(r.exact);
  j.key("input_shape").int_array(shape(in_channels(spec), spec.input));
  j.key("output_shape").int_array(shape(out_channels(spec), output_size(spec)));
  j.key("method").value(to_string(r.method));
  j.key("seconds").value(r.seconds);
  j.key("reshaped_weight_norm").value(reshaped);
  j.key("layer").begin_object();
  j.key("type").value(std::string(spec.transposed ? "ConvTranspose" : "Conv") + std::to_string(nd) +
                      "d");
  j.key("in_channels").value(static_cast<long long>(in_channels(spec)));
  j.key("out_channels").value(static_cast<long long>(out_channels(spec)));
  j.key("kernel_size").int_array(ext(spec.kernel));
  j.key("stride").int_array(ext(spec.stride));
  j.key("dilation").int_array(ext(spec.dilation));
  j.key("padding").int_array(ext(spec.padding));
  j.key("groups").value(static_cast<long long>(spec.groups));
  j.key("padding_mode").value(to_string(spec.padding_mode));
  j.key("transposed").value(spec.transposed);
  j.end_object();
  j.key("tolerance").value(options.tolerance);
  j.key("precision").value(precision);
  j.key("threads").value(static_cast<long long>(options.threads));
  if (r.method != ConvMethod::dense_svd) {
    j.key("torus").int_array(ext(r.torus));
    j.key("spectrum_storage")
        .value(std::string(r.gram_from_taps       ? "none"
                           : r.spectrum_on_demand ? "on-demand"
                                                  : "stored"));
    j.key("gram_source").value(std::string(r.gram_from_taps ? "taps" : "blocks"));
    j.key("frequency_blocks").begin_object();
    j.key("total").value(static_cast<long long>(r.circular.blocks));
    j.key("pruned").value(static_cast<long long>(r.circular.pruned));
    j.key("settled").value(static_cast<long long>(r.circular.settled));
    j.key("solved").value(static_cast<long long>(r.circular.resolved));
    j.key("lanczos").value(static_cast<long long>(r.circular.lanczos));
    j.end_object();
  }
  if (r.method == ConvMethod::torus_bound)
    j.key("lanczos_steps").value(static_cast<long long>(r.lanczos.steps));
  if (options.all_singular_values && singular_values) {
    if (!r.singular_values.empty()) {
      j.key("singular_values").double_array(r.singular_values);
    } else {
      // Not exact for large zero-padded layers: say so rather than list something else.
      j.key("singular_values").value(HUGE_VAL);  // null
      j.key("singular_values_note")
          .value(
              "only circular layers and zero-padded operators of at most --dense-limit rows "
              "and columns have an exact spectrum");
    }
  }
  j.end_object();
}


}  // namespace lipschitz
