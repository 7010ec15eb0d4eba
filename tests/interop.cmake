# Interop tests: real peers (curl, Python requests, Python Tornado's clients) against our
# HTTPServer, through tests/interop/echo_server.cpp. Each tests/interop/test_*.py is one
# ctest test, run with Debian's /usr/bin/python3 (python3-requests, python3-tornado).
# A missing peer program makes its cases skip (unittest reports each skip by name).
# The tools are test code: compiled with the tests' flags (TORNADO_TEST_FLAGS, -O1 -g1), which
# takes about a third less time than the build type's -O2 -g; the library they drive keeps
# the build type's flags.
add_executable(interop_echo_server ${CMAKE_CURRENT_SOURCE_DIR}/interop/echo_server.cpp)
target_compile_options(interop_echo_server PRIVATE ${TORNADO_WARNINGS} ${TORNADO_TEST_FLAGS})
target_link_libraries(interop_echo_server PRIVATE tornado nlohmann_json::nlohmann_json)

# Signed values and XSRF tokens, made and read by both sides (test_web_signing.py).
add_executable(interop_signing_tool ${CMAKE_CURRENT_SOURCE_DIR}/interop/signing_tool.cpp)
target_compile_options(interop_signing_tool PRIVATE ${TORNADO_WARNINGS} ${TORNADO_TEST_FLAGS})
target_include_directories(interop_signing_tool PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(interop_signing_tool PRIVATE tornado nlohmann_json::nlohmann_json)

# A web::Application sharing a cookie secret with Python Tornado (test_web_app.py).
add_executable(interop_web_app_server ${CMAKE_CURRENT_SOURCE_DIR}/interop/web_app_server.cpp)
target_compile_options(interop_web_app_server PRIVATE ${TORNADO_WARNINGS} ${TORNADO_TEST_FLAGS})
target_link_libraries(interop_web_app_server PRIVATE tornado)

# The template renderer test_templates.py compares with Python Tornado's output.
add_executable(interop_template_render ${CMAKE_CURRENT_SOURCE_DIR}/interop/template_render.cpp)
target_compile_options(interop_template_render PRIVATE ${TORNADO_WARNINGS} ${TORNADO_TEST_FLAGS})
target_link_libraries(interop_template_render PRIVATE tornado)

# WebSocket handlers for python3-websockets and Python Tornado's websocket_connect
# (test_websocket_peers.py).
add_executable(interop_websocket_server ${CMAKE_CURRENT_SOURCE_DIR}/interop/websocket_server.cpp)
target_compile_options(interop_websocket_server PRIVATE ${TORNADO_WARNINGS} ${TORNADO_TEST_FLAGS})
target_link_libraries(interop_websocket_server PRIVATE tornado)

# Our WebSocket client against python3-websockets, Python Tornado and node ws servers
# (test_websocket_client_peers.py; node ws also as a client of interop_websocket_server).
add_executable(interop_websocket_client ${CMAKE_CURRENT_SOURCE_DIR}/interop/websocket_client.cpp)
target_compile_options(interop_websocket_client PRIVATE ${TORNADO_WARNINGS} ${TORNADO_TEST_FLAGS})
target_link_libraries(interop_websocket_client PRIVATE tornado)

file(GLOB INTEROP_SCRIPTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/interop/test_*.py)
foreach(script ${INTEROP_SCRIPTS})
  get_filename_component(name ${script} NAME_WE)
  string(REGEX REPLACE "^test_" "interop_" test_name ${name})
  add_test(NAME ${test_name}
           COMMAND /usr/bin/python3 ${script} -v
           WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(${test_name} PROPERTIES
    TIMEOUT 120
    ENVIRONMENT "INTEROP_ECHO_SERVER=$<TARGET_FILE:interop_echo_server>;INTEROP_SIGNING_TOOL=$<TARGET_FILE:interop_signing_tool>;INTEROP_WEB_APP_SERVER=$<TARGET_FILE:interop_web_app_server>;INTEROP_TEMPLATE_RENDER=$<TARGET_FILE:interop_template_render>;INTEROP_WEBSOCKET_SERVER=$<TARGET_FILE:interop_websocket_server>;INTEROP_WEBSOCKET_CLIENT=$<TARGET_FILE:interop_websocket_client>;NODE_PATH=/usr/share/nodejs")
endforeach()
