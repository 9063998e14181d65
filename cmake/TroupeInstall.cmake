# `cmake --install` yields a package: find_package(troupe) gives
# troupe::messages (and the later layers), troupe::protoc-gen-troupe and the
# troupe_add_messages() function.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(TROUPE_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/troupe)
set(_targets troupe_messages troupe_protoc_gen)
foreach(_layer IN ITEMS actors http supervisors transport)
  if(TARGET troupe_${_layer})
    list(APPEND _targets troupe_${_layer})
  endif()
endforeach()

install(TARGETS ${_targets} EXPORT troupeTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
foreach(_layer IN ITEMS messages actors supervisors transport)
  if(TARGET troupe_${_layer})
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/${_layer}/include/
            DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  endif()
endforeach()
if(TARGET troupe_http)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/actors/http/include/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()
# Troupe's own schemas and their generated headers.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/messages/proto/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/troupe/proto)
install(DIRECTORY ${PROJECT_BINARY_DIR}/messages/generated/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} FILES_MATCHING PATTERN "*.pb.h")

install(EXPORT troupeTargets NAMESPACE troupe:: DESTINATION ${TROUPE_CMAKE_INSTALL_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/troupeConfig.cmake.in
  ${PROJECT_BINARY_DIR}/troupeConfig.cmake
  INSTALL_DESTINATION ${TROUPE_CMAKE_INSTALL_DIR}
  PATH_VARS CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/troupeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/troupeConfig.cmake
  ${PROJECT_BINARY_DIR}/troupeConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/FindCAF.cmake
  ${PROJECT_SOURCE_DIR}/cmake/TroupeMessages.cmake
  DESTINATION ${TROUPE_CMAKE_INSTALL_DIR})
