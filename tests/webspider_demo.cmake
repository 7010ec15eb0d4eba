# demos/webspider, when the demos are built: the link extraction and URL resolution unit test,
# and the spider crawling a site Python Tornado serves (demos/webspider/test_webspider.py).
if(TARGET webspider AND TARGET webspider_links_test)
  add_test(NAME webspider_links COMMAND webspider_links_test)
  set_tests_properties(webspider_links PROPERTIES TIMEOUT 60 LABELS demo)
  add_test(NAME demo_webspider
           COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/demos/webspider/test_webspider.py -v)
  set_tests_properties(demo_webspider PROPERTIES TIMEOUT 120 LABELS demo
                       ENVIRONMENT "WEBSPIDER_BINARY=$<TARGET_FILE:webspider>")
endif()
