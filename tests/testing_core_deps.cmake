# tornado/testing_core.h is the runtime's test support: it must not pull in the HTTP layer
# (issue 6). Compile it alone with -H (which lists every header it reaches) and fail on any
# tornado/http* header.
add_test(NAME testing_core_includes_no_http
  COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -H
          -I${PROJECT_SOURCE_DIR}/include -x c++ ${PROJECT_SOURCE_DIR}/include/tornado/testing_core.h)
set_tests_properties(testing_core_includes_no_http PROPERTIES
  FAIL_REGULAR_EXPRESSION "tornado/http" TIMEOUT 120)
