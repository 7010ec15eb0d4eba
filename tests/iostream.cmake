# g++ 12 with -fsanitize=address,undefined and -O2 reports a false -Wmaybe-uninitialized
# inside libstdc++'s std::regex (instantiated by ExpectLog in testing.h), which -Werror
# turns into a build failure. Not in our code; silence it for these tests' sanitized build.
if(TORNADO_SANITIZE)
  set_source_files_properties(
    ${CMAKE_CURRENT_SOURCE_DIR}/iostream_test.cpp ${CMAKE_CURRENT_SOURCE_DIR}/ssl_test.cpp
    PROPERTIES COMPILE_OPTIONS -Wno-maybe-uninitialized)
endif()
