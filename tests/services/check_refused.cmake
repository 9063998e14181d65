# cmake -P script: runs protoc with protoc-gen-troupe on PROTO and passes only
# if protoc fails with an error matching EXPECT (what the generator must
# refuse, it must refuse loudly, naming the reason).
execute_process(
  COMMAND ${PROTOC} --cpp_out ${OUT} --plugin=protoc-gen-troupe=${PLUGIN} --troupe_out ${OUT}
          -I ${PROTO_DIR} ${PROTO}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "protoc accepted ${PROTO}; expected a refusal matching '${EXPECT}'")
endif()
if(NOT "${out}${err}" MATCHES "${EXPECT}")
  message(FATAL_ERROR "protoc refused ${PROTO}, but not with '${EXPECT}':\n${out}${err}")
endif()
message("refused as expected: ${err}")
