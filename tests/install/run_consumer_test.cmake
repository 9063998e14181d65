# cmake -P script behind the install test (see CMakeLists.txt).
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${err}")
  endif()
endfunction()

run_step("install" ${CMAKE_COMMAND} --install "${TROUPE_BUILD_DIR}" --prefix "${prefix}")
run_step("configure consumer" ${CMAKE_COMMAND} -S "${CONSUMER_SOURCE_DIR}"
  -B "${WORK_DIR}/build" -G "${GENERATOR}" "-DCMAKE_PREFIX_PATH=${prefix}"
  "-DCMAKE_CXX_COMPILER_LAUNCHER=${COMPILER_LAUNCHER}"
  # A sanitized Troupe needs a consumer built the same way.
  # Compressed debug sections, like the build it installs (disk space).
  "-DCMAKE_CXX_FLAGS=${SANITIZE_FLAGS} -gz"
  "-DCMAKE_EXE_LINKER_FLAGS=${SANITIZE_FLAGS} -Wl,--compress-debug-sections=zlib"
  "-DCAF_INCLUDE_DIR=${CAF_INCLUDE_DIR}" "-DCAF_core_LIBRARY=${CAF_CORE_LIBRARY}")
run_step("build consumer" ${CMAKE_COMMAND} --build "${WORK_DIR}/build")
run_step("run consumer" "${WORK_DIR}/build/consumer")
run_step("run consumer tests" "${WORK_DIR}/build/consumer_tests")
# Passed: the prefix and the consumer's build are only disk space now (a
# failure leaves them for a look).
file(REMOVE_RECURSE "${WORK_DIR}")
