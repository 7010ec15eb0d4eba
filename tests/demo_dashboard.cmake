# demos/dashboard, when the demos are built: its sampler, transports and hostile cases
# without a browser (the browser test is in tests/browser.cmake).
if(TARGET dashboard_lib)
  add_executable(dashboard_test ${PROJECT_SOURCE_DIR}/demos/dashboard/dashboard_test.cpp)
  tornado_test_target(dashboard_test ${TORNADO_TEST_FLAGS})
  target_include_directories(dashboard_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(dashboard_test PRIVATE dashboard_lib)
  tornado_add_suites(dashboard_test LABELS demo)
endif()

# The executable end to end: --threads, and two processes sharing one dashboard through a
# redis-server the script starts (demos/dashboard/test_dashboard.py).
if(TARGET dashboard)
  add_test(NAME demo_dashboard
           COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/demos/dashboard/test_dashboard.py -v)
  set_tests_properties(demo_dashboard PROPERTIES TIMEOUT 120 LABELS demo
                       ENVIRONMENT "DASHBOARD_BINARY=$<TARGET_FILE:dashboard>")
endif()
