# Runs a command for ctest and passes only if it exits with 0 AND its output
# (stdout and stderr together) matches a regular expression. ctest's own
# PASS_REGULAR_EXPRESSION ignores the exit code, so a program that prints the
# expected line and then crashes would pass; this script requires both.
#
#   cmake "-DEXPECT=<regex>" [-DTIMEOUT=<seconds>] [-DEXIT_CODE=<n>]
#         -P run_checked.cmake -- <command> [<arg>...]
#
# EXIT_CODE (default 0) is the exit code required, for a program that must
# fail in one precise way (the tsan preset's canary must exit with TSan's 66).
#
# <regex> is a CMake regular expression, as PASS_REGULAR_EXPRESSION takes
# (`.` also matches a newline). Tests use it through troupe_add_checked_test()
# in tests/CMakeLists.txt.

if(NOT DEFINED EXPECT OR EXPECT STREQUAL "")
  message(FATAL_ERROR "run_checked: -DEXPECT=<regex> is required")
endif()

# Everything after "--" is the command.
set(command "")
set(after_separator FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(after_separator)
    # keep a ";" inside an argument from splitting it in two
    string(REPLACE ";" "\\;" arg "${CMAKE_ARGV${i}}")
    list(APPEND command "${arg}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(after_separator TRUE)
  endif()
endforeach()
if(NOT command)
  message(FATAL_ERROR "run_checked: no command after --")
endif()

set(timeout_args "")
if(DEFINED TIMEOUT AND NOT TIMEOUT STREQUAL "")
  set(timeout_args TIMEOUT ${TIMEOUT})
endif()

# The output is shown as it comes and kept for the match.
execute_process(COMMAND ${command} ${timeout_args}
                RESULT_VARIABLE rc
                OUTPUT_VARIABLE output ERROR_VARIABLE output
                ECHO_OUTPUT_VARIABLE ECHO_ERROR_VARIABLE)

if(NOT DEFINED EXIT_CODE OR EXIT_CODE STREQUAL "")
  set(EXIT_CODE 0)
endif()
set(failures "")
if(NOT rc STREQUAL "${EXIT_CODE}")
  list(APPEND failures "exit code: ${rc} (expected ${EXIT_CODE})")
endif()
if(NOT output MATCHES "${EXPECT}")
  list(APPEND failures "the output does not match: ${EXPECT}")
endif()
if(failures)
  list(JOIN failures "\n  " text)
  message(FATAL_ERROR "run_checked: FAILED\n  ${text}")
endif()
message(STATUS "run_checked: exit code ${EXIT_CODE} and the expected output")
