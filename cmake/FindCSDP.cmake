# CSDP, the semidefinite-programming library (Debian's libsdp-dev: <csdp/declarations.h>,
# libsdp, which links LAPACK and BLAS itself), as the imported target CSDP::CSDP.
find_path(CSDP_INCLUDE_DIR csdp/declarations.h)
find_library(CSDP_LIBRARY NAMES sdp)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CSDP REQUIRED_VARS CSDP_LIBRARY CSDP_INCLUDE_DIR)
if(CSDP_FOUND AND NOT TARGET CSDP::CSDP)
  add_library(CSDP::CSDP UNKNOWN IMPORTED)
  # Its headers are C with K&R-era habits: included as system headers, they warn nothing.
  set_target_properties(CSDP::CSDP PROPERTIES IMPORTED_LOCATION "${CSDP_LIBRARY}"
                        INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${CSDP_INCLUDE_DIR}"
                        INTERFACE_INCLUDE_DIRECTORIES "${CSDP_INCLUDE_DIR}")
endif()
