# SPDX-License-Identifier: Apache-2.0
# CTest driver for readme_snippets (cmake -P): installs the lamina build into a scratch prefix,
# then compiles README.md's C++ blocks and the examples against it (check_readme_snippets.py).
#
# Inputs (-D): LAMINA_BINARY_DIR, WORK_DIR, PYTHON, CHECKER, README, EXAMPLES, CXX_COMPILER,
#              optional CONFIG.
cmake_minimum_required(VERSION 3.19)

set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(config_args)
if(DEFINED CONFIG AND NOT CONFIG STREQUAL "")
  set(config_args --config "${CONFIG}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${LAMINA_BINARY_DIR}" --prefix "${prefix}" ${config_args}
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install into ${prefix} failed (${rc})")
endif()
execute_process(COMMAND "${PYTHON}" "${CHECKER}" --readme "${README}" --examples "${EXAMPLES}"
                        --prefix "${prefix}" --cxx "${CXX_COMPILER}" --work "${WORK_DIR}/blocks"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "README.md / examples check failed (${rc})")
endif()
