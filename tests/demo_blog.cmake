# demos/blog, when the demos are built: end to end (demos/blog/test_blog.py, Python requests
# against the built binary) and blog_unit_test.
if(TARGET blog)
  add_test(NAME demo_blog
           COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/demos/blog/test_blog.py -v)
  set_tests_properties(demo_blog PROPERTIES TIMEOUT 180 LABELS demo
                       ENVIRONMENT "BLOG_BINARY=$<TARGET_FILE:blog>")

  # Its Markdown, password and store code without HTTP.
  add_executable(blog_unit_test ${PROJECT_SOURCE_DIR}/demos/blog/blog_unit_test.cpp)
  target_compile_options(blog_unit_test PRIVATE ${TORNADO_WARNINGS})
  target_link_libraries(blog_unit_test PRIVATE blog_core GTest::gtest GTest::gtest_main)
  tornado_add_suites(blog_unit_test)
endif()
