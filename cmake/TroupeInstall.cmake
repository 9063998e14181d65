# `cmake --install` yields a package: find_package(troupe) gives the
# libraries that were built (troupe::messages, troupe::actors, troupe::http,
# troupe::supervisors, troupe::transport, troupe::services, and the test kit
# troupe::testing), troupe::protoc-gen-troupe and the
# troupe_add_messages() function.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(TROUPE_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/troupe)
# Each library installs itself and its headers into troupeTargets
# (troupe_add_layer, TroupeLayer.cmake); the protoc plugin is no library.
install(TARGETS troupe_protoc_gen EXPORT troupeTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
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
