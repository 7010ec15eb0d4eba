# A restart behind a second process on the same port loses no request: load clients keep
# sending to demos/echo while it is restarted three times (start B with SO_REUSEPORT, SIGTERM
# A, which drains and exits). tests/drain_restart.py; about 5 s.
if(TARGET echo)
  add_test(NAME drain_restart_loses_no_request
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/drain_restart.py
                   $<TARGET_FILE:echo> --restarts=3)
  set_tests_properties(drain_restart_loses_no_request PROPERTIES TIMEOUT 90 LABELS demo)
endif()
