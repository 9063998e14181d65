# Warnings for Troupe's own targets (never for generated or third-party code:
# protoc output is compiled without -Werror), and sanitizers for the build.

function(troupe_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_17)
  if(TROUPE_FUZZ)
    # The fuzz build uses clang, whose warnings differ from GCC's; the GCC
    # build (every other preset) is the one that keeps the code warning-free.
    target_compile_options(${target} PRIVATE -Wall -Wextra)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
  endif()
endfunction()

# Keeps the build's footprint on disk small: three trees (default, fuzz,
# tsan) of debug builds filled a CI machine's disk (the compiler's temporary
# assembly in /tmp was the write that failed). Debug sections are compressed
# with zlib (-gz: about a quarter of their size; gdb, perf and the
# sanitizers' symbolizer read them), and -pipe hands assembly from compiler
# to assembler in memory, not through /tmp. Call before any target is
# defined.
function(troupe_lean_build_artifacts)
  add_compile_options(-pipe -gz)
  add_link_options(-Wl,--compress-debug-sections=zlib)
endfunction()

# Instruments every target of this build with TROUPE_SANITIZE, generated
# message libraries included (also a user's troupe_add_messages targets in
# the same build). Why not per target: protobuf changes the layout of its
# classes under ThreadSanitizer (map_field.h), so an instrumented test next to
# a plain message library crashes. Call before any target is defined.
function(troupe_enable_sanitizers)
  if(NOT TROUPE_SANITIZE)
    return()
  endif()
  string(REPLACE "," ";" _list "${TROUPE_SANITIZE}")
  foreach(_s IN LISTS _list)
    if(NOT _s MATCHES "^(address|undefined|thread|leak)$")
      message(FATAL_ERROR "TROUPE_SANITIZE: unknown sanitizer '${_s}' "
                          "(expected address, undefined, leak or thread)")
    endif()
  endforeach()
  if("thread" IN_LIST _list AND "address" IN_LIST _list)
    message(FATAL_ERROR "TROUPE_SANITIZE: thread cannot be combined with address")
  endif()
  set(_flag "-fsanitize=${TROUPE_SANITIZE}")
  add_compile_options(${_flag} -fno-omit-frame-pointer)
  add_link_options(${_flag})
  if("thread" IN_LIST _list)
    # GCC 12 warns that TSan does not model std::atomic_thread_fence, which
    # Asio uses; with -Werror that would stop the build.
    add_compile_options(-Wno-tsan)
    troupe_use_tsan_caf()
  endif()
endfunction()

# TSan needs CAF itself instrumented: Debian's libcaf-core is not, and TSan
# then reports every hand-off through CAF's mailboxes and scheduler queues
# as a race. scripts/build-caf-tsan builds CAF's core from the upstream
# tarball of Debian's package with -fsanitize=thread (about 2 minutes, once);
# find_package(CAF) then finds that build before the system's. Fails the
# configure step if it cannot be built: a TSan run against an uninstrumented
# CAF would report nothing but noise.
macro(troupe_use_tsan_caf)
  set(_caf_tsan_prefix ${PROJECT_SOURCE_DIR}/build/caf-tsan/prefix)
  if(NOT EXISTS ${_caf_tsan_prefix}/lib/libcaf_core.so)
    message(STATUS "Building CAF with ThreadSanitizer (scripts/build-caf-tsan)")
    execute_process(COMMAND ${PROJECT_SOURCE_DIR}/scripts/build-caf-tsan
                    RESULT_VARIABLE _caf_tsan_rc)
    if(NOT _caf_tsan_rc EQUAL 0)
      message(FATAL_ERROR "scripts/build-caf-tsan failed (${_caf_tsan_rc})")
    endif()
  endif()
  set(CAF_INCLUDE_DIR ${_caf_tsan_prefix}/include CACHE PATH "CAF headers" FORCE)
  set(CAF_core_LIBRARY ${_caf_tsan_prefix}/lib/libcaf_core.so CACHE FILEPATH
      "CAF core library (instrumented for TSan)" FORCE)
endmacro()

# With TROUPE_FUZZ, every target gets libFuzzer's coverage instrumentation
# (the fuzz executables link libFuzzer itself, tests/fuzz), and sanitizer
# findings abort, so libFuzzer counts them as crashes. Call before any target
# is defined.
function(troupe_enable_fuzzing)
  if(NOT TROUPE_FUZZ)
    return()
  endif()
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TROUPE_FUZZ needs clang (libFuzzer): use the `fuzz` preset")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link -fno-sanitize-recover=all)
endfunction()
