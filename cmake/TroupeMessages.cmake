# troupe_add_messages(<target> PROTOS <file.proto>... [PROTO_ROOT <dir>]
#                     [IMPORT_DIRS <dir>...] [STATIC|SHARED])
#
# Turns a user's .proto files into a library of Troupe messages in one line:
# generates the C++ code (protoc --cpp_out) and the registration of every
# message with Troupe and CAF (protoc-gen-troupe), builds them into <target>,
# and links troupe::messages (and troupe::services when a proto declares a
# `service`: its server side and stub are generated too, docs/services.md).
# Link <target> and include "<relative>.pb.h",
# where <relative> is the proto's path below PROTO_ROOT (default: the current
# source dir). Troupe's own schemas (troupe/*.proto) are importable.
#
# troupe_generate_messages(<target> PROTOS ... OUT_DIR <dir> [PROTO_ROOT] [IMPORT_DIRS])
# is the lower-level step that adds generated sources to an existing target.

if(NOT DEFINED TROUPE_PROTO_DIR)
  set(TROUPE_PROTO_DIR "${CMAKE_CURRENT_LIST_DIR}/../messages/proto")
endif()

function(troupe_generate_messages target)
  cmake_parse_arguments(ARG "" "PROTO_ROOT;OUT_DIR" "PROTOS;IMPORT_DIRS" ${ARGN})
  if(NOT ARG_PROTOS)
    message(FATAL_ERROR "troupe_generate_messages(${target}): PROTOS is empty")
  endif()
  if(NOT ARG_OUT_DIR)
    message(FATAL_ERROR "troupe_generate_messages(${target}): OUT_DIR is required")
  endif()
  if(NOT ARG_PROTO_ROOT)
    set(ARG_PROTO_ROOT ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  get_filename_component(_root "${ARG_PROTO_ROOT}" ABSOLUTE)
  set(_import_args -I "${_root}")
  foreach(_dir IN LISTS ARG_IMPORT_DIRS TROUPE_PROTO_DIR)
    get_filename_component(_abs "${_dir}" ABSOLUTE)
    if(NOT _abs STREQUAL _root)
      list(APPEND _import_args -I "${_abs}")
    endif()
  endforeach()
  if(TARGET troupe_protoc_gen)          # inside Troupe's own build
    set(_plugin $<TARGET_FILE:troupe_protoc_gen>)
    set(_plugin_dep troupe_protoc_gen)
  else()                                # from an installed package
    set(_plugin $<TARGET_FILE:troupe::protoc-gen-troupe>)
    set(_plugin_dep troupe::protoc-gen-troupe)
  endif()
  file(MAKE_DIRECTORY "${ARG_OUT_DIR}")
  set(_sources)
  foreach(_proto IN LISTS ARG_PROTOS)
    get_filename_component(_abs "${_proto}" ABSOLUTE)
    file(RELATIVE_PATH _rel "${_root}" "${_abs}")
    if(_rel MATCHES "^\\.\\.")
      message(FATAL_ERROR "troupe_generate_messages(${target}): ${_proto} is "
                          "outside PROTO_ROOT ${_root}")
    endif()
    string(REGEX REPLACE "\\.proto$" "" _stem "${_rel}")
    set(_h "${ARG_OUT_DIR}/${_stem}.pb.h")
    set(_cc "${ARG_OUT_DIR}/${_stem}.pb.cc")
    add_custom_command(
      OUTPUT "${_h}" "${_cc}"
      COMMAND protobuf::protoc
              --cpp_out "${ARG_OUT_DIR}"
              --plugin=protoc-gen-troupe=${_plugin}
              --troupe_out "${ARG_OUT_DIR}"
              ${_import_args} "${_abs}"
      DEPENDS "${_abs}" protobuf::protoc ${_plugin_dep}
      COMMENT "Generating Troupe messages from ${_rel}"
      VERBATIM)
    list(APPEND _sources "${_cc}" "${_h}")
  endforeach()
  target_sources(${target} PRIVATE ${_sources})
  # Generated code is not ours to hold to -Werror.
  set_source_files_properties(${_sources} PROPERTIES COMPILE_OPTIONS "-Wno-error")
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${ARG_OUT_DIR}>)
endfunction()

function(troupe_add_messages target)
  cmake_parse_arguments(ARG "STATIC;SHARED" "PROTO_ROOT" "PROTOS;IMPORT_DIRS" ${ARGN})
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "troupe_add_messages(${target}): unknown arguments "
                        "${ARG_UNPARSED_ARGUMENTS}")
  endif()
  set(_kind)
  if(ARG_STATIC)
    set(_kind STATIC)
  elseif(ARG_SHARED)
    set(_kind SHARED)
  endif()
  add_library(${target} ${_kind})
  set(_root_arg)
  if(ARG_PROTO_ROOT)
    set(_root_arg PROTO_ROOT ${ARG_PROTO_ROOT})
  endif()
  troupe_generate_messages(${target} ${_root_arg}
    PROTOS ${ARG_PROTOS} IMPORT_DIRS ${ARG_IMPORT_DIRS}
    OUT_DIR "${CMAKE_CURRENT_BINARY_DIR}/${target}_generated")
  target_link_libraries(${target} PUBLIC troupe::messages)
  foreach(_proto IN LISTS ARG_PROTOS)
    file(STRINGS "${_proto}" _services REGEX "^[ \t]*service[ \t]+[A-Za-z_]")
    if(_services)
      target_link_libraries(${target} PUBLIC troupe::services)
      break()
    endif()
  endforeach()
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()

# troupe_add_python_messages(<target> OUT_DIR <dir> PROTOS <file.proto>...
#                            [PROTO_ROOT <dir>])
#
# Python code for a client in another language (transport/python/
# troupe_client.py): protoc --python_out for the given protos and Troupe's
# own wire schemas (troupe/{envelope,error,flow,service,wire}.proto), into
# OUT_DIR, by a custom target <target> built with ALL. A Python program puts
# OUT_DIR on its path and imports `troupe.wire_pb2` and `<relative>_pb2`.
function(troupe_add_python_messages target)
  cmake_parse_arguments(ARG "" "PROTO_ROOT;OUT_DIR" "PROTOS" ${ARGN})
  if(NOT ARG_OUT_DIR OR NOT ARG_PROTOS)
    message(FATAL_ERROR "troupe_add_python_messages(${target}): OUT_DIR and PROTOS are required")
  endif()
  if(NOT ARG_PROTO_ROOT)
    set(ARG_PROTO_ROOT ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  set(_protos)
  set(_outputs)
  foreach(_name IN ITEMS envelope error flow service wire)
    list(APPEND _protos "${TROUPE_PROTO_DIR}/troupe/${_name}.proto")
    list(APPEND _outputs "${ARG_OUT_DIR}/troupe/${_name}_pb2.py")
  endforeach()
  foreach(_proto IN LISTS ARG_PROTOS)
    get_filename_component(_abs "${_proto}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    file(RELATIVE_PATH _rel "${ARG_PROTO_ROOT}" "${_abs}")
    string(REGEX REPLACE "\\.proto$" "_pb2.py" _py "${_rel}")
    list(APPEND _protos "${_abs}")
    list(APPEND _outputs "${ARG_OUT_DIR}/${_py}")
  endforeach()
  add_custom_command(
    OUTPUT ${_outputs}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${ARG_OUT_DIR}
    COMMAND protobuf::protoc --python_out ${ARG_OUT_DIR}
            -I ${TROUPE_PROTO_DIR} -I ${ARG_PROTO_ROOT} ${_protos}
    DEPENDS ${_protos} protobuf::protoc
    COMMENT "Generating Python protobuf code (${target})"
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${_outputs})
endfunction()
