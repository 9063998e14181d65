# Warnings and sanitizers for Troupe's own targets (never for generated or
# third-party code: protoc output is compiled without -Werror).

function(troupe_target_defaults target)
  target_compile_features(${target} PUBLIC cxx_std_17)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
  troupe_target_sanitizers(${target})
endfunction()

function(troupe_target_sanitizers target)
  if(TROUPE_SANITIZE)
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
    target_compile_options(${target} PRIVATE ${_flag} -fno-omit-frame-pointer)
    target_link_options(${target} PUBLIC ${_flag})
  endif()
endfunction()
