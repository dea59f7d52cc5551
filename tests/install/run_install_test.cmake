# SPDX-License-Identifier: Apache-2.0
# CTest driver for install_find_package (cmake -P). Installs the lamina build into a scratch
# prefix, checks the installed library (SONAME liblamina.so.MAJOR.MINOR, or liblamina.a), the
# headers (version.hpp; <lamina/lamina.hpp> pulls in no xtensor/xtl/xsimd/HDF5/CUDA header), then
# configures, builds and runs tests/install (a user's project using find_package(lamina)) against
# that prefix only, checks that its HDF5 load used the installed probe helper
# (<libexecdir>/lamina/lamina-h5probe), builds and runs the same program through pkg-config
# (lamina.pc), and runs an installed example (`--component examples`) when the build has them. Any failing step fails the
# test. .ci/test also runs it on a static build (-DLAMINA_BUILD_SHARED=OFF).
#
# Inputs (-D): LAMINA_BINARY_DIR, CONSUMER_SOURCE_DIR, WORK_DIR, CXX_COMPILER,
#              optional CONFIG, GENERATOR.
cmake_minimum_required(VERSION 3.19)

foreach(var LAMINA_BINARY_DIR CONSUMER_SOURCE_DIR WORK_DIR CXX_COMPILER)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_install_test.cmake: -D${var}=... is required")
  endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/consumer-build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# Runs a command; on failure prints its output and stops with FATAL_ERROR.
function(step name)
  string(TIMESTAMP t0 "%s")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(TIMESTAMP t1 "%s")
  math(EXPR dt "${t1} - ${t0}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "[install test] ${name} FAILED (exit ${rc}):\n${ARGN}\n--- stdout\n${out}\n--- stderr\n${err}")
  endif()
  message(STATUS "[install test] ${name}: ok (${dt} s)")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# 1. cmake --install into the scratch prefix.
set(config_args)
if(DEFINED CONFIG AND NOT CONFIG STREQUAL "")
  set(config_args --config "${CONFIG}")
endif()
step("cmake --install" "${CMAKE_COMMAND}" --install "${LAMINA_BINARY_DIR}" --prefix "${prefix}" ${config_args})
foreach(f include/lamina/lamina.hpp include/lamina/xtensor.hpp include/lamina/version.hpp)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "[install test] ${f} was not installed under ${prefix}")
  endif()
endforeach()
file(GLOB_RECURSE config_files "${prefix}/*/laminaConfig.cmake")
if(NOT config_files)
  message(FATAL_ERROR "[install test] no laminaConfig.cmake installed under ${prefix}")
endif()
file(GLOB_RECURSE pc_files "${prefix}/*/pkgconfig/lamina.pc")
if(NOT pc_files)
  message(FATAL_ERROR "[install test] no lamina.pc installed under ${prefix}")
endif()
get_filename_component(pc_dir "${pc_files}" DIRECTORY)
get_filename_component(libdir "${pc_dir}" DIRECTORY)

# The library: a versioned shared object whose SONAME carries MAJOR.MINOR, or a static archive.
file(STRINGS "${prefix}/include/lamina/version.hpp" major REGEX "define LAMINA_VERSION_MAJOR")
file(STRINGS "${prefix}/include/lamina/version.hpp" minor REGEX "define LAMINA_VERSION_MINOR")
string(REGEX REPLACE ".* " "" major "${major}")
string(REGEX REPLACE ".* " "" minor "${minor}")
set(static OFF)
if(EXISTS "${libdir}/liblamina.a" AND NOT EXISTS "${libdir}/liblamina.so")
  set(static ON)
  message(STATUS "[install test] static library: ${libdir}/liblamina.a")
else()
  file(GLOB so_files "${libdir}/liblamina.so.${major}.${minor}.*")
  if(NOT so_files OR NOT EXISTS "${libdir}/liblamina.so.${major}.${minor}" OR NOT EXISTS "${libdir}/liblamina.so")
    file(GLOB listed "${libdir}/liblamina*")
    message(FATAL_ERROR "[install test] expected liblamina.so -> liblamina.so.${major}.${minor} -> liblamina.so.${major}.${minor}.N in ${libdir}, found: ${listed}")
  endif()
  step("readelf -d liblamina.so" readelf -d "${libdir}/liblamina.so")
  if(NOT step_output MATCHES "Library soname: \\[liblamina\\.so\\.${major}\\.${minor}\\]")
    message(FATAL_ERROR "[install test] SONAME is not liblamina.so.${major}.${minor}:\n${step_output}")
  endif()
  message(STATUS "[install test] SONAME liblamina.so.${major}.${minor}")
endif()

# 2. The public headers a user script sees include no xtensor, HDF5 or CUDA header.
#    (-M lists every header the preprocessor opens, system headers included.)
step("header dependencies of lamina.hpp"
     "${CXX_COMPILER}" -std=c++20 -M -I "${prefix}/include" "${CONSUMER_SOURCE_DIR}/main.cpp")
set(deps "${step_output}")
string(FIND "${deps}" "${prefix}/include/lamina/lamina.hpp" pos)
if(pos EQUAL -1)
  message(FATAL_ERROR "[install test] main.cpp did not use the installed lamina.hpp:\n${deps}")
endif()
string(REGEX MATCHALL "[^ \\\\\n]*/(xtensor|xtl|xsimd|xtensor-blas)/[^ \\\\\n]*|[^ \\\\\n]*/(hdf5[^ \\\\\n]*|H5[A-Za-z]*\\.h|cuda[A-Za-z_]*\\.h|cublas[A-Za-z_]*\\.h|cudnn[A-Za-z_]*\\.h)" leaked "${deps}")
if(leaked)
  list(REMOVE_DUPLICATES leaked)
  list(JOIN leaked "\n  " leaked)
  message(FATAL_ERROR "[install test] <lamina/lamina.hpp> pulls in headers it must not:\n  ${leaked}")
endif()
message(STATUS "[install test] lamina.hpp includes no xtensor/xtl/xsimd/HDF5/CUDA header")

# 3. Configure the consumer against the prefix only.
set(gen_args)
if(DEFINED GENERATOR AND NOT GENERATOR STREQUAL "")
  set(gen_args -G "${GENERATOR}")
endif()
step("configure consumer"
     "${CMAKE_COMMAND}" -S "${CONSUMER_SOURCE_DIR}" -B "${consumer_build}" ${gen_args}
     "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
     -DCMAKE_BUILD_TYPE= -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
file(STRINGS "${consumer_build}/CMakeCache.txt" lamina_dir_line REGEX "^lamina_DIR:")
string(FIND "${lamina_dir_line}" "${prefix}/" pos)
if(pos EQUAL -1)
  message(FATAL_ERROR "[install test] find_package(lamina) did not find the installed package: ${lamina_dir_line}")
endif()

# 4. Build and run.
step("build consumer" "${CMAKE_COMMAND}" --build "${consumer_build}" -j 2)
find_program(app NAMES app PATHS "${consumer_build}" "${consumer_build}/Debug" NO_DEFAULT_PATH REQUIRED)
find_program(app_xt NAMES app_xtensor PATHS "${consumer_build}" "${consumer_build}/Debug" NO_DEFAULT_PATH REQUIRED)
step("run app" "${app}")
message(STATUS "[install test] app: ${step_output}")
if(NOT step_output MATCHES "lamina [0-9.]+ consumer OK")
  message(FATAL_ERROR "[install test] app did not print 'lamina VERSION consumer OK'")
endif()
step("run app_xtensor" "${app_xt}")
if(NOT step_output MATCHES "lamina xtensor interop OK")
  message(FATAL_ERROR "[install test] app_xtensor did not print 'lamina xtensor interop OK':\n${step_output}")
endif()

# 4b. The HDF5 probe helper, installed beside the library (<libexecdir>/lamina/lamina-h5probe).
#     A shared liblamina finds it relative to itself: with it moved away, the app's load fails
#     naming that place (so the build tree's helper is not what the installed library uses), and
#     a copy of the whole prefix elsewhere works from there (the install is relocatable). A static
#     liblamina is part of the program: it looks at the configured prefix, then its build tree, so
#     here the installed helper is given through LAMINA_H5PROBE.
file(GLOB_RECURSE probes "${prefix}/*/lamina/lamina-h5probe")
list(LENGTH probes probe_count)
if(NOT probe_count EQUAL 1)
  message(FATAL_ERROR "[install test] expected one <libexecdir>/lamina/lamina-h5probe under ${prefix}, found: ${probes}")
endif()
set(probe "${probes}")
if(static)
  step("run app with LAMINA_H5PROBE=${probe}" "${CMAKE_COMMAND}" -E env "LAMINA_H5PROBE=${probe}" "${app}")
  execute_process(COMMAND "${CMAKE_COMMAND}" -E env "LAMINA_H5PROBE=${prefix}/no-such-probe" "${app}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0 OR NOT out MATCHES "LAMINA_H5PROBE='${prefix}/no-such-probe' is not an executable file")
    message(FATAL_ERROR "[install test] a missing probe helper did not fail the load clearly (exit ${rc}):\n${out}\n${err}")
  endif()
else()
  file(RENAME "${probe}" "${probe}.away")
  execute_process(COMMAND "${CMAKE_COMMAND}" -E env --unset=LAMINA_H5PROBE "${app}"
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  file(RENAME "${probe}.away" "${probe}")
  string(FIND "${out}" "lamina-h5probe is not at ${probe}" pos)
  if(rc EQUAL 0 OR pos EQUAL -1)
    message(FATAL_ERROR "[install test] with ${probe} moved away, the app's load did not fail naming it (exit ${rc}):\n${out}\n${err}")
  endif()
  # The copy's library comes first through LD_LIBRARY_PATH where the app carries a RUNPATH (an
  # old-style RPATH would win over it: then the check is skipped).
  execute_process(COMMAND readelf -d "${app}" OUTPUT_VARIABLE dynamic)
  if(NOT dynamic MATCHES "\\(RPATH\\)")
    set(moved "${WORK_DIR}/moved-prefix")
    file(COPY "${prefix}/" DESTINATION "${moved}")
    file(RELATIVE_PATH libdir_rel "${prefix}" "${libdir}")
    file(RELATIVE_PATH probe_rel "${prefix}" "${probe}")
    file(RENAME "${probe}" "${probe}.away")
    execute_process(COMMAND "${CMAKE_COMMAND}" -E env --unset=LAMINA_H5PROBE
                            "LD_LIBRARY_PATH=${moved}/${libdir_rel}" "${app}"
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    file(RENAME "${probe}.away" "${probe}")
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "[install test] a copy of the prefix did not use its own ${probe_rel} (exit ${rc}):\n${out}\n${err}")
    endif()
    message(STATUS "[install test] a copy of the prefix uses its own probe helper")
  endif()
endif()
message(STATUS "[install test] the HDF5 load used the installed probe helper ${probe}")

# 5. The same program through pkg-config, as a Makefile user would build it.
find_program(PKG_CONFIG NAMES pkg-config REQUIRED)
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
set(pc_args --cflags --libs)
if(static)
  list(APPEND pc_args --static)
endif()
step("pkg-config ${pc_args} lamina" "${PKG_CONFIG}" ${pc_args} lamina)
string(STRIP "${step_output}" pc_flags)
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
set(app_pc "${WORK_DIR}/app_pkg_config")
step("build with pkg-config"
     "${CXX_COMPILER}" -std=c++20 -Wall -Wextra -Werror "${CONSUMER_SOURCE_DIR}/main.cpp" -o "${app_pc}"
     ${pc_flags} "-Wl,-rpath,${libdir}")
step("run app_pkg_config" "${app_pc}")
if(NOT step_output MATCHES "lamina [0-9.]+ consumer OK")
  message(FATAL_ERROR "[install test] app_pkg_config did not print 'lamina VERSION consumer OK':\n${step_output}")
endif()

# 6. The trainers, installed on request only (component examples), run from the prefix.
if(EXISTS "${LAMINA_BINARY_DIR}/load_keras_model")
  if(EXISTS "${prefix}/bin/load_keras_model")
    message(FATAL_ERROR "[install test] a plain cmake --install installed the examples")
  endif()
  step("cmake --install --component examples"
       "${CMAKE_COMMAND}" --install "${LAMINA_BINARY_DIR}" --prefix "${prefix}" --component examples ${config_args})
  foreach(example fashion_mnist_mlp load_keras_model)
    if(NOT EXISTS "${prefix}/bin/${example}")
      message(FATAL_ERROR "[install test] ${example} was not installed in ${prefix}/bin")
    endif()
  endforeach()
  # Run from the prefix alone (RPATH $ORIGIN/../lib): its usage message, exit status 2.
  execute_process(COMMAND "${prefix}/bin/load_keras_model" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 2 OR NOT err MATCHES "usage")
    message(FATAL_ERROR "[install test] installed load_keras_model did not print its usage (exit ${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "[install test] installed examples run from the prefix")
endif()
message(STATUS "[install test] passed")
