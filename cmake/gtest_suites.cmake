# cmake -P script, run after each link of a test executable (tornado_add_suites in
# tests/CMakeLists.txt): lists the executable's GoogleTest cases and writes a ctest file that
# registers one ctest test per suite, named `Suite.*` and run as `--gtest_filter=Suite.*`.
# One process per suite instead of one per case: under ASan a process costs about 0.15
# CPU-seconds to start and exit, about 300 CPU-seconds over the 1,900 cases of a run.
#
# -D variables: EXECUTABLE, CTEST_FILE, WORKING_DIRECTORY, LABELS (;-list, may be empty),
# TIMEOUT_BASE and TIMEOUT_PER_CASE and TIMEOUT_MAX (seconds: a suite's TIMEOUT is the base
# plus the per-case figure for each case, at most the maximum).
cmake_minimum_required(VERSION 3.20)

execute_process(COMMAND "${EXECUTABLE}" --gtest_list_tests
  WORKING_DIRECTORY "${WORKING_DIRECTORY}" TIMEOUT 60
  OUTPUT_VARIABLE listing ERROR_VARIABLE errors RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  file(REMOVE "${CTEST_FILE}")
  message(FATAL_ERROR "${EXECUTABLE} --gtest_list_tests failed (${status}):\n${listing}${errors}")
endif()

# The listing: a suite's line at column 0, `Suite.` (a parameterized or typed suite
# `Prefix/Suite.`, a typed one followed by `  # TypeParam = ...`), then its cases indented
# (a parameterized case followed by `  # GetParam() = ...`). Semicolons and brackets in those
# comments would upset CMake's lists: the lines are matched one by one, comments dropped.
string(REPLACE ";" "," listing "${listing}")
string(REPLACE "[" "(" listing "${listing}")
string(REPLACE "]" ")" listing "${listing}")
string(REPLACE "\n" ";" lines "${listing}")
set(suites)
set(suite)
foreach(line IN LISTS lines)
  if(line MATCHES "^([^ #]+)\\.( |$)")
    set(suite "${CMAKE_MATCH_1}")
    list(APPEND suites "${suite}")
    set(cases_${suite} 0)
  elseif(suite AND line MATCHES "^  [^ ]")
    math(EXPR cases_${suite} "${cases_${suite}} + 1")
  endif()
endforeach()
if(NOT suites)
  message(FATAL_ERROR "${EXECUTABLE} --gtest_list_tests listed no suite:\n${listing}")
endif()

set(labels)
if(LABELS)
  string(REPLACE ";" "\\;" labels "${LABELS}")
  set(labels "LABELS [==[${labels}]==]")
endif()
set(script "# Written by cmake/gtest_suites.cmake from ${EXECUTABLE} --gtest_list_tests\n")
foreach(suite IN LISTS suites)
  math(EXPR timeout "${TIMEOUT_BASE} + ${TIMEOUT_PER_CASE} * ${cases_${suite}}")
  if(timeout GREATER TIMEOUT_MAX)
    set(timeout ${TIMEOUT_MAX})
  endif()
  # A suite GoogleTest would not run without --gtest_also_run_disabled_tests: as
  # gtest_discover_tests did, registered but disabled, so that ctest lists it as such.
  set(disabled)
  if(suite MATCHES "(^|/)DISABLED_")
    set(disabled "DISABLED TRUE")
  endif()
  string(APPEND script
    "add_test([==[${suite}.*]==] [==[${EXECUTABLE}]==] [==[--gtest_filter=${suite}.*]==])\n"
    "set_tests_properties([==[${suite}.*]==] PROPERTIES WORKING_DIRECTORY "
    "[==[${WORKING_DIRECTORY}]==] TIMEOUT ${timeout} ${labels} ${disabled})\n")
endforeach()
file(WRITE "${CTEST_FILE}" "${script}")
