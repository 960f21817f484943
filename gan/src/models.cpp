#include <gan/models.hpp>

#include <torch/nn/functional/activation.h>

#include <stdexcept>

namespace lipschitz::gan {

namespace {

namespace F = torch::nn::functional;

// DCGAN's downsampling/upsampling block (Radford et al. 2016): 4×4 kernels, stride 2, padding 1.
constexpr std::int64_t kKernel = 4, kStride = 2, kPadding = 1;

std::int64_t conv_output_side(std::int64_t side) {
  return (side + 2 * kPadding - kKernel) / kStride + 1;
}

ConvSpec linear_spec(std::int64_t in, std::int64_t out) {
  // y = Wx is a 1-D convolution with a 1-tap kernel on a one-pixel torus: the engine's
  // frequency analysis then has one block, the matrix itself.
  ConvSpec s;
  s.spatial_dims = 1;
  s.weight_dim0 = out;
  s.weight_dim1 = in;
  s.padding_mode = PaddingMode::circular;
  return s;
}

}  // namespace

CriticImpl::CriticImpl(const TrainOptions& options, const ModelShape& shape)
    : architecture_(options.architecture), shape_(shape) {
  const bool layernorm = options.critic_norm == CriticNorm::layernorm;
  if (architecture_ == Architecture::mlp) {
    std::int64_t in = shape.data_dim;
    for (std::int64_t i = 0; i < options.depth; ++i) {
      fc_.push_back(
          register_module("fc" + std::to_string(i + 1), torch::nn::Linear(in, options.width)));
      if (layernorm)
        norm_.push_back(
            register_module("norm" + std::to_string(i + 1),
                            torch::nn::LayerNorm(torch::nn::LayerNormOptions({options.width}))));
      in = options.width;
    }
    fc_.push_back(
        register_module("fc" + std::to_string(options.depth + 1), torch::nn::Linear(in, 1)));
    return;
  }
  leak_ = kCriticLeakyReluSlope;
  if (shape.height != shape.width || shape.height < 4)
    throw std::invalid_argument("dcgan critic needs square images of side >= 4: got " +
                                std::to_string(shape.height) + "x" + std::to_string(shape.width));
  std::int64_t side = shape.height, in = shape.channels, out = options.width;
  int index = 1;
  while (side > 4) {
    conv_input_side_.push_back(side);
    conv_.push_back(register_module(
        "conv" + std::to_string(index),
        torch::nn::Conv2d(
            torch::nn::Conv2dOptions(in, out, kKernel).stride(kStride).padding(kPadding))));
    side = conv_output_side(side);
    if (layernorm && index > 1)
      norm_.push_back(
          register_module("norm" + std::to_string(index),
                          torch::nn::LayerNorm(torch::nn::LayerNormOptions({out, side, side}))));
    in = out;
    out *= 2;
    ++index;
  }
  fc_.push_back(
      register_module("fc" + std::to_string(index), torch::nn::Linear(in * side * side, 1)));
}

at::Tensor CriticImpl::forward(const at::Tensor& x) { return forward(x, nullptr); }

at::Tensor CriticImpl::forward(const at::Tensor& x, std::vector<at::Tensor>* activations) {
  at::Tensor h = x;
  if (architecture_ == Architecture::mlp) {
    h = h.reshape({h.size(0), -1});
    for (std::size_t i = 0; i + 1 < fc_.size(); ++i) {
      h = fc_[i]->forward(h);
      if (!norm_.empty()) h = norm_[i]->forward(h);
      // In place: neither the linear map nor LayerNorm needs its output for backward.
      h = torch::relu_(h);
      if (activations) activations->push_back(h);
    }
  } else {
    for (std::size_t i = 0; i < conv_.size(); ++i) {
      h = conv_[i]->forward(h);
      if (!norm_.empty() && i > 0) h = norm_[i - 1]->forward(h);
      h = F::leaky_relu(h, F::LeakyReLUFuncOptions().negative_slope(leak_));
      if (activations) activations->push_back(h);
    }
    h = h.reshape({h.size(0), -1});
  }
  return fc_.back()->forward(h).reshape({-1});
}

std::vector<CriticLayer> CriticImpl::layers() const {
  std::vector<CriticLayer> out;
  const bool layernorm = !norm_.empty();
  for (std::size_t i = 0; i < conv_.size(); ++i) {
    CriticLayer layer;
    layer.name = "conv" + std::to_string(i + 1);
    layer.weight = conv_[i]->weight;
    layer.bias = conv_[i]->bias;
    layer.negative_slope = leak_;
    ConvSpec& s = layer.spec;
    s.weight_dim0 = conv_[i]->weight.size(0);
    s.weight_dim1 = conv_[i]->weight.size(1);
    s.kernel = {kKernel, kKernel};
    s.input = {conv_input_side_[i], conv_input_side_[i]};
    s.stride = {kStride, kStride};
    s.padding = {kPadding, kPadding};
    layer.activation_lipschitz = 1;  // LeakyReLU with slope 0.2 ≤ 1 (ALGORITHMS.md §6)
    layer.followed_by_layernorm = layernorm && i > 0;
    out.push_back(layer);
  }
  for (std::size_t i = 0; i < fc_.size(); ++i) {
    CriticLayer layer;
    layer.name = "fc" + std::to_string(conv_.size() + i + 1);
    layer.weight = fc_[i]->weight;
    layer.bias = fc_[i]->bias;
    layer.negative_slope = leak_;
    layer.spec = linear_spec(fc_[i]->weight.size(1), fc_[i]->weight.size(0));
    layer.followed_by_layernorm = layernorm && conv_.empty() && i + 1 < fc_.size();
    out.push_back(layer);
  }
  return out;
}

std::vector<at::Tensor> CriticImpl::clipped_parameters() const {
  std::vector<at::Tensor> p;
  for (const auto& c : conv_) p.insert(p.end(), {c->weight, c->bias});
  for (const auto& f : fc_) p.insert(p.end(), {f->weight, f->bias});
  return p;
}

GeneratorImpl::GeneratorImpl(const TrainOptions& options, const ModelShape& shape)
    : architecture_(options.architecture), shape_(shape), image_(shape.channels > 0) {
  const bool bn = options.generator_batchnorm;
  if (architecture_ == Architecture::mlp) {
    std::int64_t in = shape.latent_dim;
    for (std::int64_t i = 0; i < options.depth; ++i) {
      fc_.push_back(
          register_module("fc" + std::to_string(i + 1), torch::nn::Linear(in, options.width)));
      if (bn)
        bn1_.push_back(
            register_module("bn" + std::to_string(i + 1), torch::nn::BatchNorm1d(options.width)));
      in = options.width;
    }
    fc_.push_back(register_module("fc" + std::to_string(options.depth + 1),
                                  torch::nn::Linear(in, shape.data_dim)));
    return;
  }
  // Start at side s ≤ 7 and double it m times: 7→14→28, 4→8→16→32, 4→…→64.
  std::int64_t side = shape.height, doublings = 0;
  while (side > 7 && side % 2 == 0) {
    side /= 2;
    ++doublings;
  }
  if (shape.height != shape.width || doublings == 0 || side > 7)
    throw std::invalid_argument(
        "dcgan generator needs square images whose side halves to at most 7 (28, 32, 64, …): "
        "got " +
        std::to_string(shape.height) + "x" + std::to_string(shape.width));
  start_side_ = side;
  start_channels_ = options.width << doublings;
  fc_.push_back(
      register_module("fc1", torch::nn::Linear(shape.latent_dim, start_channels_ * side * side)));
  if (bn)
    bn1_.push_back(register_module("bn1", torch::nn::BatchNorm1d(start_channels_ * side * side)));
  std::int64_t channels = start_channels_;
  for (std::int64_t i = 0; i < doublings; ++i) {
    const bool last = i + 1 == doublings;
    const std::int64_t out = last ? shape.channels : channels / 2;
    deconv_.push_back(register_module(
        "deconv" + std::to_string(i + 1),
        torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(channels, out, kKernel)
                                       .stride(kStride)
                                       .padding(kPadding))));
    if (bn && !last)
      bn2_.push_back(register_module("bn" + std::to_string(i + 2), torch::nn::BatchNorm2d(out)));
    channels = out;
  }
}

at::Tensor GeneratorImpl::forward(const at::Tensor& z) {
  at::Tensor h = z;
  if (architecture_ == Architecture::mlp) {
    for (std::size_t i = 0; i + 1 < fc_.size(); ++i) {
      h = fc_[i]->forward(h);
      if (!bn1_.empty()) h = bn1_[i]->forward(h);
      h = torch::relu_(h);
    }
    h = fc_.back()->forward(h);
    if (!image_) return h;
    return torch::tanh(h).reshape({h.size(0), shape_.channels, shape_.height, shape_.width});
  }
  h = fc_[0]->forward(h);
  if (!bn1_.empty()) h = bn1_[0]->forward(h);
  h = torch::relu(h).reshape({h.size(0), start_channels_, start_side_, start_side_});
  for (std::size_t i = 0; i < deconv_.size(); ++i) {
    h = deconv_[i]->forward(h);
    if (i + 1 < deconv_.size()) {
      if (!bn2_.empty()) h = bn2_[i]->forward(h);
      h = torch::relu(h);
    }
  }
  return torch::tanh(h);
}

}  // namespace lipschitz::gan
