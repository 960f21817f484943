#pragma once
// `lipschitz conv`: the spectral norm and spectrum of one convolution layer from a .npy weight.

namespace lipschitz::tools {

/// Runs `lipschitz conv` with the arguments after the command name; returns the exit code.
int conv_command(int argc, const char* const* argv);

}  // namespace lipschitz::tools
