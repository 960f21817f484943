// A `lipschitz train` checkpoint → its critic as a lipschitz::Network.

#include <report/model_import.hpp>
#include <report/network_builder.hpp>

#include <gan/models.hpp>
#include <gan/toy_data.hpp>
#include <gan/trainer.hpp>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize/input-archive.h>

#include <map>

namespace lipschitz::report {
namespace {


std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// The DCGAN critic's conv stack (k 4, stride 2, padding 1) on a square side: convs until the
// side is ≤ 4, as CriticImpl builds it; returns the final side and counts the convs.
Index dcgan_final_side(Index side, int* convs) {
  *convs = 0;
  while (side > 4) {
    side = (side + 2 - 4) / 2 + 1;
    ++*convs;
  }
  return side;
}

// The image side the critic was built for: the training options' image size if set, else the
// usual size (then any size) whose conv stack fits the weights.
Index dcgan_side(const gan::TrainOptions& options, int convs, Index fc_in, Index last_channels) {
  const auto fits = [&](Index side) {
    int n = 0;
    const Index final_side = dcgan_final_side(side, &n);
    return n == convs && last_channels * final_side * final_side == fc_in;
  };
  if (options.image_size > 0 && fits(options.image_size)) return options.image_size;
  for (Index side : {28, 32, 64, 96, 128, 256})
    if (fits(side)) return side;
  for (Index side = 4; side <= 4096; ++side)
    if (fits(side)) return side;
  return 0;
}

}  // namespace

ImportedModel import_checkpoint(const std::string& path, const std::optional<Shape>& input_shape) {
  gan::TrainOptions options;
  try {
    options = gan::Trainer::checkpoint_options(path);
  } catch (const gan::CheckpointError& e) {
    throw ImportError(e.what());
  }
  torch::serialize::InputArchive root, archive;
  try {
    root.load_from(path, c10::Device(c10::kCPU));
    root.read("critic", archive);
  } catch (const c10::Error& e) {
    throw ImportError(path + ": cannot read the critic (" + first_line(e.what_without_backtrace()) + ")");
  }
  // Parameters by their module path, "fc1.weight": sub-archive "fc1", tensor "weight".
  std::map<std::string, at::Tensor> tensors;
  const auto find = [&](const std::string& key) -> const at::Tensor* {
    auto it = tensors.find(key);
    if (it != tensors.end()) return &it->second;
    const std::size_t dot = key.find('.');
    torch::serialize::InputArchive module;
    at::Tensor t;
    try {
      if (!archive.try_read(key.substr(0, dot), module) || !module.try_read(key.substr(dot + 1), t))
        return nullptr;
    } catch (const c10::Error&) {
      return nullptr;
    }
    return &(tensors[key] = t);
  };
  const auto tensor = [&](const std::string& key) -> const at::Tensor& {
    const at::Tensor* t = find(key);
    if (!t) throw ImportError(path + ": the critic has no parameter '" + key + "'");
    return *t;
  };

  gan::ModelShape shape;
  shape.latent_dim = options.latent_dim;
  int convs = 0;
  while (find("conv" + std::to_string(convs + 1) + ".weight")) ++convs;
  const bool dcgan = options.architecture == gan::Architecture::dcgan;
  if (dcgan) {
    const at::Tensor& first = tensor("conv1.weight");
    const at::Tensor& fc = tensor("fc" + std::to_string(convs + 1) + ".weight");
    const Index last = tensor("conv" + std::to_string(convs) + ".weight").size(0);
    const Index side = dcgan_side(options, convs, fc.size(1), last);
    if (side == 0) throw ImportError(path + ": the critic's layers fit no square image size");
    shape.channels = first.size(1);
    shape.height = shape.width = side;
    shape.data_dim = shape.channels * side * side;
  } else {
    shape.data_dim = tensor("fc1.weight").size(1);
  }
  const Shape own = dcgan ? Shape{shape.channels, shape.height, shape.width} : Shape{shape.data_dim};

  ImportedModel model;
  model.format = "checkpoint";
  model.input_shape = own;
  model.input_shape_source = "checkpoint";
  if (input_shape) {
    if (*input_shape != own)
      throw ImportError(path + ": --input-shape " + shape_string(*input_shape) +
                        " does not fit this critic, which takes " + shape_string(own));
    model.input_shape_source = "--input-shape";
  }

  gan::Critic critic(options, shape);
  try {
    critic->load(archive);
  } catch (const c10::Error& e) {
    throw ImportError(path + ": the critic's parameters do not fit its options (" +
                      first_line(e.what_without_backtrace()) + ")");
  }
  critic->eval();

  torch::NoGradGuard no_grad;
  NetworkBuilder builder(model.input_shape);
  const bool layernorm = options.critic_norm == gan::CriticNorm::layernorm;
  const auto add = [&](Layer layer, int input) {
    layer.inputs = {input};
    return builder.add(std::move(layer));
  };
  const auto linear = [&](const std::string& name, int input) {
    Layer l;
    l.name = name;
    l.type = "Linear";
    l.kind = LayerKind::conv;
    l.linear = true;
    l.weight = to_vector(tensor(name + ".weight"));
    l.bias = to_vector(tensor(name + ".bias"));
    return add(l, input);
  };
  const auto norm = [&](const std::string& name, const Shape& normalized, int input) {
    Layer l;
    l.name = name;
    l.type = "LayerNorm";
    l.kind = LayerKind::layer_norm;
    l.normalized_shape = normalized;
    l.scale = to_vector(tensor(name + ".weight"));
    l.bias = to_vector(tensor(name + ".bias"));
    return add(l, input);
  };
  const auto activation = [&](const std::string& name, Activation a, double parameter, int input) {
    Layer l;
    l.name = name;
    l.kind = LayerKind::activation;
    l.activation = a;
    l.parameter = parameter;
    l.type = to_string(a);
    return add(l, input);
  };
  const auto reshape = [&](const std::string& name, const Shape& to, int input) {
    Layer l;
    l.name = name;
    l.type = "Reshape";
    l.kind = LayerKind::reshape;
    l.output_shape = to;
    return add(l, input);
  };

  int h = 0;
  try {
    if (!dcgan) {
      for (std::int64_t i = 1; i <= options.depth; ++i) {
        h = linear("fc" + std::to_string(i), h);
        if (layernorm) h = norm("norm" + std::to_string(i), {options.width}, h);
        h = activation("relu" + std::to_string(i), Activation::relu, 0, h);
      }
      h = linear("fc" + std::to_string(options.depth + 1), h);
    } else {
      for (int i = 1; i <= convs; ++i) {
        Layer l;
        l.name = "conv" + std::to_string(i);
        l.type = "Conv2d";
        l.kind = LayerKind::conv;
        const at::Tensor& w = tensor(l.name + ".weight");
        l.spec.weight_dim0 = w.size(0);
        l.spec.weight_dim1 = w.size(1);
        l.spec.kernel = {w.size(2), w.size(3)};
        l.spec.stride = {2, 2};
        l.spec.padding = {1, 1};
        l.weight = to_vector(w);
        l.bias = to_vector(tensor(l.name + ".bias"));
        h = add(l, h);
        if (layernorm && i > 1) {
          const Shape& s = builder.network().layers[h].output_shape;
          h = norm("norm" + std::to_string(i), s, h);
        }
        h = activation("lrelu" + std::to_string(i), Activation::leaky_relu, gan::kCriticLeakyReluSlope, h);
      }
      h = reshape("flatten", {element_count(builder.network().layers[h].output_shape)}, h);
      h = linear("fc" + std::to_string(convs + 1), h);
    }
    h = reshape("score", {}, h);
  } catch (const std::invalid_argument& e) {
    throw ImportError(path + ": " + e.what());
  }
  // The description must be the critic: same output on the example batch.
  const at::Tensor x = builder.value(0);
  model.network = std::move(builder).finish(h);
  const at::Tensor ours = run_network(model.network, x), theirs = critic->forward(x);
  if (!at::allclose(ours, theirs, 1e-4, 1e-5))
    throw ImportError(path + ": internal: the critic's description does not reproduce its output");
  model.forward = [critic](const at::Tensor& input) mutable { return critic->forward(input); };
  gan::Critic in_double(options, shape);
  in_double->load(archive);
  in_double->eval();
  in_double->to(at::kDouble);
  model.forward_double = [in_double](const at::Tensor& input) mutable {
    return in_double->forward(input);
  };
  if (const auto toy = gan::toy_set_from_string(options.data)) {
    model.training_data = gan::sample_toy(*toy, 2500, at::make_generator<at::CPUGeneratorImpl>(0));
    model.training_data_name = options.data;
  }
  return model;
}

}  // namespace lipschitz::report
