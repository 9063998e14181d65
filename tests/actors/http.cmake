# Tests of the HTTP GET operation against a local cpp-httplib server.
# Included by tests/actors/CMakeLists.txt after troupe-actors-tests exists.
#
# Debian's cpp-httplib is split into a header and libcpp-httplib.so; its .pc
# file carries the defines (OpenSSL/zlib/brotli support) that must match the
# compiled library, so it is found through pkg-config.
find_package(PkgConfig REQUIRED)
pkg_check_modules(TROUPE_HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib>=0.11)

# The server keeps httplib behind a pimpl, so only its own TU pays for the
# header and only this library links it.
add_library(troupe_http_test_server STATIC
  ${CMAKE_CURRENT_LIST_DIR}/../support/troupe/testing/http_test_server.cpp)
target_include_directories(troupe_http_test_server PUBLIC
  ${CMAKE_CURRENT_LIST_DIR}/../support)
target_link_libraries(troupe_http_test_server PRIVATE PkgConfig::TROUPE_HTTPLIB
                      PUBLIC Threads::Threads)
troupe_target_defaults(troupe_http_test_server)

target_sources(troupe-actors-tests PRIVATE ${CMAKE_CURRENT_LIST_DIR}/http_get.test.cpp
               ${CMAKE_CURRENT_LIST_DIR}/http_fetcher.test.cpp)
target_link_libraries(troupe-actors-tests PRIVATE troupe_http_test_server)
