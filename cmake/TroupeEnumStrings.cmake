# troupe_add_enum_strings(<target> HEADER <header> ENUM <qualified enum>
#                         [NAMESPACE <namespace>])
#
# Adds a generated `std::string to_string(<enum>)` to <target>, built from the
# enum's declaration in <header> (relative to the target's include/ folder,
# e.g. troupe/actors/flow_errc.hpp) and regenerated when the header changes.
# NAMESPACE is where to_string is declared (argument-dependent lookup must
# find it); it defaults to the enum's own scope.
set(TROUPE_ENUM_STRINGS_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/troupe_generate_enum_strings.cmake)

function(troupe_add_enum_strings target)
  cmake_parse_arguments(ARG "" "HEADER;ENUM;NAMESPACE" "" ${ARGN})
  if(NOT ARG_NAMESPACE)
    string(REGEX REPLACE "::[^:]*$" "" ARG_NAMESPACE "${ARG_ENUM}")
  endif()
  string(REGEX REPLACE "^.*::" "" _leaf "${ARG_ENUM}")
  get_filename_component(_stem "${ARG_HEADER}" NAME_WE)
  set(_header ${CMAKE_CURRENT_SOURCE_DIR}/include/${ARG_HEADER})
  set(_out ${CMAKE_CURRENT_BINARY_DIR}/enum_strings/${_stem}_${_leaf}_strings.cpp)
  add_custom_command(
    OUTPUT ${_out}
    COMMAND ${CMAKE_COMMAND} -DHEADER=${_header} -DENUM=${ARG_ENUM}
            -DNAMESPACE=${ARG_NAMESPACE} -DINCLUDE=${ARG_HEADER} -DOUT=${_out}
            -P ${TROUPE_ENUM_STRINGS_SCRIPT}
    DEPENDS ${_header} ${TROUPE_ENUM_STRINGS_SCRIPT}
    COMMENT "Generating to_string(${ARG_ENUM})"
    VERBATIM)
  target_sources(${target} PRIVATE ${_out})
endfunction()
