# FFTW3 (double and single precision) through pkg-config, as imported targets
# FFTW3::fftw3 and FFTW3::fftw3f.
find_package(PkgConfig REQUIRED)
pkg_check_modules(FFTW3 REQUIRED IMPORTED_TARGET GLOBAL fftw3)
pkg_check_modules(FFTW3F REQUIRED IMPORTED_TARGET GLOBAL fftw3f)
if(NOT TARGET FFTW3::fftw3)
  add_library(FFTW3::fftw3 ALIAS PkgConfig::FFTW3)
  add_library(FFTW3::fftw3f ALIAS PkgConfig::FFTW3F)
endif()
set(FFTW3_FOUND TRUE)
