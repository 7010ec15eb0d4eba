# demos/chat, when the demos are built: the three transports, recovery, presence, rooms,
# limits, --threads and Redis, and the hostile pass (test_chat_hostile.py, run by it), with
# real clients (demos/chat/test_chat.py; about a minute, 80-100 s under ASan: 300 s leaves
# room for a loaded machine).
if(TARGET chat)
  add_test(NAME demo_chat COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/demos/chat/test_chat.py -v)
  set_tests_properties(demo_chat PROPERTIES TIMEOUT 300 LABELS demo
                       ENVIRONMENT "CHAT_BINARY=$<TARGET_FILE:chat>")
  # bench/soak.py's short version (issue 10): two minutes of 60 users on three transports
  # leaving and coming back every 5 s on average while 20 messages a second are posted: no
  # message lost or repeated, RSS flat (not checked under ASan), no descriptor left behind.
  # Started first (tests/ctest_costs/), it runs beside the others (it mostly waits).
  add_test(NAME soak_chat COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/bench/soak.py
           --seconds=120 --users=60 --rooms=4 --rate=20 --churn=5 --sample=2)
  set_tests_properties(soak_chat PROPERTIES TIMEOUT 300 LABELS demo
                       ENVIRONMENT "CHAT_BINARY=$<TARGET_FILE:chat>")
endif()
