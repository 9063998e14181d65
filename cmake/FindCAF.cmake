# Finds CAF 0.17 (Debian's libcaf-dev ships no CMake package and no .pc file).
# Creates the imported targets CAF::core, CAF::io, CAF::openssl with the names
# CAF >= 0.18 exports itself, so moving to a config-based CAF deletes this file.
find_path(CAF_INCLUDE_DIR NAMES caf/all.hpp)
if(CAF_INCLUDE_DIR AND EXISTS "${CAF_INCLUDE_DIR}/caf/config.hpp")
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" _caf_version_line
       REGEX "^#define CAF_VERSION [0-9]+")
  string(REGEX REPLACE ".* ([0-9]+)$" "\\1" _caf_v "${_caf_version_line}")
  math(EXPR _caf_major "${_caf_v} / 10000")
  math(EXPR _caf_minor "(${_caf_v} / 100) % 100")
  math(EXPR _caf_patch "${_caf_v} % 100")
  set(CAF_VERSION "${_caf_major}.${_caf_minor}.${_caf_patch}")
endif()
if(NOT CAF_FIND_COMPONENTS)
  set(CAF_FIND_COMPONENTS core)
endif()
find_package(Threads REQUIRED)
foreach(_c IN LISTS CAF_FIND_COMPONENTS)
  find_library(CAF_${_c}_LIBRARY NAMES caf_${_c})
  if(CAF_${_c}_LIBRARY)
    set(CAF_${_c}_FOUND TRUE)
  endif()
endforeach()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CAF
  REQUIRED_VARS CAF_INCLUDE_DIR CAF_core_LIBRARY
  VERSION_VAR CAF_VERSION
  HANDLE_COMPONENTS)
foreach(_c IN LISTS CAF_FIND_COMPONENTS)
  if(CAF_${_c}_FOUND AND NOT TARGET CAF::${_c})
    add_library(CAF::${_c} SHARED IMPORTED)
    set_target_properties(CAF::${_c} PROPERTIES
      IMPORTED_LOCATION "${CAF_${_c}_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}")
    if(_c STREQUAL "core")
      set_property(TARGET CAF::core PROPERTY INTERFACE_LINK_LIBRARIES Threads::Threads)
    else()
      set_property(TARGET CAF::${_c} PROPERTY INTERFACE_LINK_LIBRARIES CAF::core)
    endif()
  endif()
endforeach()
mark_as_advanced(CAF_INCLUDE_DIR)
