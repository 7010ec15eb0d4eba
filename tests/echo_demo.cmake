# demos/echo, when the demos are built: the echo server (threads, compression on and off)
# under python3-websockets clients, and echo_client against python3-websockets servers
# (demos/echo/test_echo.py).
if(TARGET echo AND TARGET echo_client)
  add_test(NAME demo_echo COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/demos/echo/test_echo.py -v)
  set_tests_properties(demo_echo PROPERTIES TIMEOUT 120 LABELS demo
                       ENVIRONMENT "ECHO_BINARY=$<TARGET_FILE:echo>;ECHO_CLIENT_BINARY=$<TARGET_FILE:echo_client>")
endif()
