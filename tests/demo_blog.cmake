# demos/blog end to end (demos/blog/test_blog.py, Python requests against the built binary),
# when the demos are built.
if(TARGET blog)
  add_test(NAME demo_blog
           COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/demos/blog/test_blog.py -v)
  set_tests_properties(demo_blog PROPERTIES TIMEOUT 180 LABELS demo
                       ENVIRONMENT "BLOG_BINARY=$<TARGET_FILE:blog>")
endif()
