# The request path's functions are in .text.hot in the library archive (tornado/hot.h,
# docs/performance.md "Code layout"), in the g++ and the clang ASan runs.
add_test(NAME hot_layout
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/hot_layout_check.py $<TARGET_FILE:tornado>)
set_tests_properties(hot_layout PROPERTIES TIMEOUT 60)
