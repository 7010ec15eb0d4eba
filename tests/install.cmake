# The install test: proves `cmake --install` gives a tree another CMake project can use
# with find_package(tornado). Installs the current build into a fresh temporary prefix,
# configures and builds tests/consumer/ against it (CMAKE_PREFIX_PATH only), runs it.
#
# This file has two roles: include()d from tests/CMakeLists.txt it registers the ctest
# test; run by that test with `cmake -P` it does the work.
if(NOT CMAKE_SCRIPT_MODE_FILE)
  add_test(NAME install_consumer
    COMMAND ${CMAKE_COMMAND}
      -DTORNADO_BUILD_DIR=${PROJECT_BINARY_DIR}
      -DCONSUMER_SOURCE_DIR=${CMAKE_CURRENT_SOURCE_DIR}/consumer
      -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/install_test
      -DGENERATOR=${CMAKE_GENERATOR}
      -DCXX_COMPILER=${CMAKE_CXX_COMPILER}
      -DBUILD_TYPE=${CMAKE_BUILD_TYPE}
      -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(install_consumer PROPERTIES TIMEOUT 300 LABELS install)
  return()
endif()

foreach(var TORNADO_BUILD_DIR CONSUMER_SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER)
  if(NOT ${var})
    message(FATAL_ERROR "install test: ${var} is not set")
  endif()
endforeach()

set(prefix ${WORK_DIR}/prefix)
set(consumer_build ${WORK_DIR}/consumer-build)
file(REMOVE_RECURSE ${WORK_DIR})  # a clean prefix every run: nothing stale can help
file(MAKE_DIRECTORY ${WORK_DIR})

# Runs a command; on failure stops with its output. Leaves the output in `output`.
function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: ${what} failed (${rc}):\n${out}")
  endif()
  message(STATUS "install test: ${what}: ok")
  set(output "${out}" PARENT_SCOPE)
endfunction()

step("cmake --install" ${CMAKE_COMMAND} --install ${TORNADO_BUILD_DIR} --prefix ${prefix})
foreach(header task.h ioloop.h log.h testing.h)
  if(NOT EXISTS ${prefix}/include/tornado/${header})
    message(FATAL_ERROR "install test: ${prefix}/include/tornado/${header} was not installed")
  endif()
endforeach()

set(build_type_arg)
if(BUILD_TYPE)
  set(build_type_arg -DCMAKE_BUILD_TYPE=${BUILD_TYPE})
endif()
step("configure the consumer" ${CMAKE_COMMAND} -G ${GENERATOR}
     -S ${CONSUMER_SOURCE_DIR} -B ${consumer_build}
     -DCMAKE_CXX_COMPILER=${CXX_COMPILER} ${build_type_arg}
     -DCMAKE_PREFIX_PATH=${prefix}
     -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)

# The package must come from the prefix, not from the build tree or the system.
file(STRINGS ${consumer_build}/CMakeCache.txt tornado_dir REGEX "^tornado_DIR:")
string(REGEX REPLACE "^tornado_DIR:[A-Z]*=" "" tornado_dir "${tornado_dir}")
string(FIND "${tornado_dir}" "${prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "install test: tornado was found at '${tornado_dir}', not under ${prefix}")
endif()

step("build the consumer" ${CMAKE_COMMAND} --build ${consumer_build})
step("run the consumer" ${consumer_build}/consumer)
if(NOT output MATCHES "consumer: ok")
  message(FATAL_ERROR "install test: the consumer did not report success:\n${output}")
endif()
