# SPDX-License-Identifier: Apache-2.0
# CTest driver for compile_fail (cmake -P): each tests/compile_fail/*.cpp is compiled against the
# source tree's headers; a file with "// expect-error: TEXT" must fail with TEXT in the compiler's
# message, one with "// expect-success" must compile (so that a failure comes from the line under
# test, not from a broken header).
#
# Inputs (-D): SOURCE_DIR, BINARY_DIR (for the generated lamina/version.hpp), CXX_COMPILER.
cmake_minimum_required(VERSION 3.19)
file(GLOB cases "${SOURCE_DIR}/tests/compile_fail/*.cpp")
set(failed 0)
foreach(case ${cases})
  file(STRINGS "${case}" expect REGEX "^// expect-")
  execute_process(
    COMMAND "${CXX_COMPILER}" -std=c++20 -Wall -Wextra -fsyntax-only
            -I "${SOURCE_DIR}/include" -I "${BINARY_DIR}/include" "${case}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  get_filename_component(name "${case}" NAME)
  if(expect MATCHES "^// expect-error: (.*)$")
    set(text "${CMAKE_MATCH_1}")
    string(FIND "${err}" "${text}" at)
    if(rc EQUAL 0 OR at EQUAL -1)
      message(SEND_ERROR "${name}: expected a compile error containing '${text}', got exit ${rc}:\n${err}")
      set(failed 1)
    else()
      message(STATUS "${name}: refused as expected")
    endif()
  elseif(expect MATCHES "^// expect-success")
    if(NOT rc EQUAL 0)
      message(SEND_ERROR "${name}: expected to compile:\n${err}")
      set(failed 1)
    else()
      message(STATUS "${name}: compiles")
    endif()
  else()
    message(SEND_ERROR "${name}: no '// expect-error: ...' or '// expect-success' line")
    set(failed 1)
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "compile_fail: some cases did not behave as expected")
endif()
