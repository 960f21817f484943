#pragma once
// The exit-code convention of the LibTorch commands (lipschitz train, sample, eval) in one place
// (docs/cli.md, "Exit codes and errors"): their main()s end in
//   catch (...) { return command_error_exit("train"); }

#include <c10/util/Exception.h>

#include <iostream>
#include <stdexcept>

namespace lipschitz::tools {

/// Prints the exception being handled as `lipschitz NAME: …` on stderr and returns the exit
/// code: 2 for bad input or settings (std::invalid_argument, whose message names the file or
/// flag), 1 for any other error, LibTorch's own without its C++ backtrace. Call only inside a
/// catch block.
inline int command_error_exit(const char* name) {
  try {
    throw;
  } catch (const std::invalid_argument& e) {
    std::cerr << "lipschitz " << name << ": " << e.what() << "\n";
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << "lipschitz " << name << ": error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "lipschitz " << name << ": error: " << e.what() << "\n";
    return 1;
  } catch (...) {
    std::cerr << "lipschitz " << name << ": error: an exception of unknown type\n";
    return 1;
  }
}

}  // namespace lipschitz::tools
