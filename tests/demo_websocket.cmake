# demos/websocket (Tornado's WebSocket chat demo on the hub), when the demos are built: end to
# end with python3-websockets (demos/websocket/test_chatdemo.py) against the built binary.
if(TARGET chatdemo)
  add_test(NAME demo_websocket
           COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/demos/websocket/test_chatdemo.py -v)
  set_tests_properties(demo_websocket PROPERTIES TIMEOUT 120 LABELS demo
                       ENVIRONMENT "CHATDEMO_BINARY=$<TARGET_FILE:chatdemo>")
endif()
