# Browser tests: Debian's headless Chromium, driven by npm's playwright-core (pinned in
# tests/browser/package-lock.json), opens pages, WebSockets and EventSources against
# browser_test_server (tests/browser/browser_server.cpp). Each tests/browser/*.test.js is one
# ctest test (label `browser`), run with node's test runner; browser_setup (a fixture) runs
# `npm ci` into the build directory first when node_modules is missing or out of date.
# docs/testing-browser.md says how to add one. The server is test code: the tests' flags
# (TORNADO_TEST_FLAGS), as for the interop tools (tests/interop.cmake).
add_executable(browser_test_server ${CMAKE_CURRENT_SOURCE_DIR}/browser/browser_server.cpp)
target_compile_options(browser_test_server PRIVATE ${TORNADO_WARNINGS} ${TORNADO_TEST_FLAGS})
target_link_libraries(browser_test_server PRIVATE tornado)

set(BROWSER_TEST_DIR ${CMAKE_CURRENT_BINARY_DIR}/browser)
add_test(NAME browser_setup
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/browser/setup.sh ${BROWSER_TEST_DIR})
set_tests_properties(browser_setup PROPERTIES TIMEOUT 150 LABELS browser
                     FIXTURES_SETUP browser_node_modules)

file(GLOB BROWSER_TEST_SCRIPTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/browser/*.test.js)
foreach(script ${BROWSER_TEST_SCRIPTS})
  get_filename_component(name ${script} NAME)
  string(REGEX REPLACE "\\.test\\.js$" "" name ${name})
  add_test(NAME browser_${name} COMMAND node --test --test-reporter=spec ${script}
           WORKING_DIRECTORY ${BROWSER_TEST_DIR})
  # The server is slower under ASan; each file stays well under this. No COST property: the
  # order on a fresh build directory comes from tests/ctest_costs/ (scripts/test seeds it).
  set_tests_properties(browser_${name} PROPERTIES
    TIMEOUT 90 LABELS browser FIXTURES_REQUIRED browser_node_modules
    ENVIRONMENT "BROWSER_TEST_SERVER=$<TARGET_FILE:browser_test_server>;BROWSER_NODE_MODULES=${BROWSER_TEST_DIR}/node_modules;BROWSER_ARTIFACTS=${BROWSER_TEST_DIR}/artifacts")
endforeach()

# demos/echo in the browser, when the demos are built (the pattern for a demo under test).
if(TARGET echo)
  add_test(NAME browser_demo_echo
           COMMAND node --test --test-reporter=spec ${CMAKE_CURRENT_SOURCE_DIR}/browser/demos/echo.test.js
           WORKING_DIRECTORY ${BROWSER_TEST_DIR})
  set_tests_properties(browser_demo_echo PROPERTIES
    TIMEOUT 90 LABELS "browser;demo" FIXTURES_REQUIRED browser_node_modules
    ENVIRONMENT "ECHO_BINARY=$<TARGET_FILE:echo>;BROWSER_TEST_SERVER=$<TARGET_FILE:browser_test_server>;BROWSER_NODE_MODULES=${BROWSER_TEST_DIR}/node_modules;BROWSER_ARTIFACTS=${BROWSER_TEST_DIR}/artifacts")
endif()

# demos/dashboard in the browser (its own pages; SSE fallback; twenty pages). The screenshots
# are artifacts/dashboard.png and artifacts/dashboard-sse.png.
if(TARGET dashboard)
  add_test(NAME browser_demo_dashboard
           COMMAND node --test --test-reporter=spec ${CMAKE_CURRENT_SOURCE_DIR}/browser/demos/dashboard.test.js
           WORKING_DIRECTORY ${BROWSER_TEST_DIR})
  set_tests_properties(browser_demo_dashboard PROPERTIES
    TIMEOUT 240 LABELS "browser;demo" FIXTURES_REQUIRED browser_node_modules
    ENVIRONMENT "DASHBOARD_BINARY=$<TARGET_FILE:dashboard>;BROWSER_TEST_SERVER=$<TARGET_FILE:browser_test_server>;BROWSER_NODE_MODULES=${BROWSER_TEST_DIR}/node_modules;BROWSER_ARTIFACTS=${BROWSER_TEST_DIR}/artifacts")
endif()

# demos/chat in the browser: three transports, fallback, recovery, presence.
if(TARGET chat)
  add_test(NAME browser_demo_chat
           COMMAND node --test --test-reporter=spec ${CMAKE_CURRENT_SOURCE_DIR}/browser/demos/chat.test.js
           WORKING_DIRECTORY ${BROWSER_TEST_DIR})
  set_tests_properties(browser_demo_chat PROPERTIES
    TIMEOUT 300 LABELS "browser;demo" FIXTURES_REQUIRED browser_node_modules
    ENVIRONMENT "CHAT_BINARY=$<TARGET_FILE:chat>;BROWSER_NODE_MODULES=${BROWSER_TEST_DIR}/node_modules;BROWSER_ARTIFACTS=${BROWSER_TEST_DIR}/artifacts")
endif()
