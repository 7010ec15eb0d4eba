# demos/chat, when the demos are built: the three transports, recovery, presence, rooms,
# limits, --threads and Redis, and the hostile pass (test_chat_hostile.py, run by it), with
# real clients (demos/chat/test_chat.py; about a minute, longer under ASan).
if(TARGET chat)
  add_test(NAME demo_chat COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/demos/chat/test_chat.py -v)
  set_tests_properties(demo_chat PROPERTIES TIMEOUT 180 LABELS demo
                       ENVIRONMENT "CHAT_BINARY=$<TARGET_FILE:chat>")
endif()
