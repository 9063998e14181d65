# troupe_add_layer(<name> SOURCES <file>... [PUBLIC_DEPS <target>...]
#                  [PRIVATE_DEPS <target>...])
#
# Declares one of Troupe's libraries from the folder that calls it:
# troupe_<name>, with the alias troupe::<name> inside this build and the
# same name in the installed package. The folder's include/ is the public
# header root (<troupe/<name>/...>, installed as is); its src/ is a private
# one, for headers the .cpp files share and that are never installed.
# PUBLIC_DEPS are the targets the public headers need, PRIVATE_DEPS those
# only the .cpp files use (a static library still names them in the export,
# so each package behind them needs a find_dependency in
# troupeConfig.cmake.in).
#
# Installing is part of declaring: a library without its install rules would
# be missing from find_package(troupe) without any error here.
# TroupeInstall.cmake writes the export set and the package config.
include_guard(GLOBAL)
include(GNUInstallDirs)
include(TroupeCompileOptions)

function(troupe_add_layer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "troupe_add_layer(${name}): unknown arguments "
                        "${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "troupe_add_layer(${name}): SOURCES is empty")
  endif()
  set(target troupe_${name})
  add_library(${target} ${ARG_SOURCES})
  add_library(troupe::${name} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
  target_include_directories(${target}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(${target} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  troupe_target_defaults(${target})

  install(TARGETS ${target} EXPORT troupeTargets
    RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()
