#pragma once
/// \file models.hpp
/// The critic and the generator: the WGAN-GP paper's MLPs (toy data; ALGORITHMS.md §7) and
/// DCGAN-style convolutional networks for 28×28, 32×32 and 64×64 images.

#include <lipschitz/conv_spec.hpp>

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include <gan/train_options.hpp>

namespace lipschitz::gan {

/// The shapes both networks are built for.
/// The DCGAN critic's LeakyReLU slope (Radford et al. 2016).
inline constexpr double kCriticLeakyReluSlope = 0.2;

struct ModelShape {
  std::int64_t channels = 0;  ///< image channels; 0 for vector data
  std::int64_t height = 0;    ///< image side; 0 for vector data
  std::int64_t width = 0;
  std::int64_t data_dim = 2;    ///< features of one sample (C·H·W for images)
  std::int64_t latent_dim = 2;  ///< generator input
};

/// One linear map of the critic, for monitoring: its weight (shares storage with the module's
/// parameter) and its geometry at the layer's real input size, in the engine's terms.
struct CriticLayer {
  std::string name;                 ///< "fc1", "conv2", …
  at::Tensor weight;                ///< PyTorch layout: (out, in) or (c_out, c_in, k, k)
  at::Tensor bias;                  ///< (out) or (c_out)
  ConvSpec spec;                    ///< a Linear layer is a 1×1 circular convolution on one pixel
  double activation_lipschitz = 1;  ///< Lipschitz constant of what follows it (1 for ReLU/LReLU)
  double negative_slope = 0;        ///< the activation after it: LeakyReLU's slope (0: ReLU)
  bool followed_by_layernorm = false;  ///< LayerNorm has no global Lipschitz constant (§6)
};

/// The critic D: data → one score per sample (no sigmoid; the GAN loss applies its own).
class CriticImpl : public torch::nn::Module {
 public:
  CriticImpl(const TrainOptions& options, const ModelShape& shape);

  /// Scores, shape (B).
  at::Tensor forward(const at::Tensor& x);
  /// Scores, and each hidden layer's activation (after its nonlinearity) appended to
  /// `activations` — the tensors Figure 1b of Gulrajani et al. takes gradient norms at.
  at::Tensor forward(const at::Tensor& x, std::vector<at::Tensor>* activations);

  /// Every linear map, input to output, with its geometry at this critic's input size.
  std::vector<CriticLayer> layers() const;
  /// Parameters that weight clipping bounds (weights and biases of the linear maps; not the
  /// LayerNorm gains, which the WGAN-GP code leaves free as well).
  std::vector<at::Tensor> clipped_parameters() const;

 private:
  Architecture architecture_;
  ModelShape shape_;
  double leak_ = 0;  ///< LeakyReLU slope: 0 for the MLP (ReLU), 0.2 for DCGAN
  std::vector<torch::nn::Linear> fc_;
  std::vector<torch::nn::Conv2d> conv_;
  std::vector<std::int64_t> conv_input_side_;  ///< spatial input side of each conv
  std::vector<torch::nn::LayerNorm> norm_;
};
TORCH_MODULE(Critic);

/// The generator G: latent (B, latent_dim) → data (B, data_dim) or (B, C, H, W); tanh output
/// for images, linear for toy data.
class GeneratorImpl : public torch::nn::Module {
 public:
  GeneratorImpl(const TrainOptions& options, const ModelShape& shape);
  at::Tensor forward(const at::Tensor& z);

 private:
  Architecture architecture_;
  ModelShape shape_;
  bool image_ = false;
  std::int64_t start_side_ = 0, start_channels_ = 0;
  std::vector<torch::nn::Linear> fc_;
  std::vector<torch::nn::BatchNorm1d> bn1_;
  std::vector<torch::nn::ConvTranspose2d> deconv_;
  std::vector<torch::nn::BatchNorm2d> bn2_;
};
TORCH_MODULE(Generator);

}  // namespace lipschitz::gan
