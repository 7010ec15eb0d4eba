# 10,000 concurrent echo connections through demos/tcpecho, server and client in separate
# processes (tests/tcpecho_load.sh). Serial: it uses half the machine's descriptors.
if(TARGET tcpecho)
  add_test(NAME tcpecho_load_10000_connections
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tcpecho_load.sh $<TARGET_FILE:tcpecho> 10000 5)
  set_tests_properties(tcpecho_load_10000_connections PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE)
  # A smaller, quicker run of the same path (more messages per connection).
  add_test(NAME tcpecho_load_100_connections
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tcpecho_load.sh $<TARGET_FILE:tcpecho> 100 20)
  set_tests_properties(tcpecho_load_100_connections PROPERTIES TIMEOUT 60)
endif()
