# The HTTP GET operation: libcurl's multi-socket interface on a standalone
# Asio loop (header-only, libasio-dev). Included by actors/CMakeLists.txt.
#
# curl stays PRIVATE: no public header includes it (http_get is a pimpl).
# troupe_actors is a static library, so the export still names CURL::libcurl
# as a link-only dependency; the installed package config must
# find_dependency(CURL) for consumers.
find_package(CURL REQUIRED)
find_package(Threads REQUIRED)

target_sources(troupe_actors PRIVATE ${CMAKE_CURRENT_LIST_DIR}/src/http_get.cpp)
target_link_libraries(troupe_actors PRIVATE CURL::libcurl Threads::Threads)
