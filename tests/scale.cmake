# bench/c100k.sh scaled down (issue 10): 5,000 WebSocket connections to two echo processes on
# one port (SO_REUSEPORT) sharing their hub through Redis, opened by two client processes
# from two loopback addresses; three broadcasts must reach every connection once, none lost.
# The figures it prints (open time, memory, broadcast time) are reports, not checks.
if(TARGET echo AND TORNADO_BUILD_BENCH)  # ws_load is in bench/, added after tests/
  add_test(NAME scale_c5k COMMAND env BUILD_DIR=${PROJECT_BINARY_DIR} BENCH_SKIP_BUILD=1
           ${PROJECT_SOURCE_DIR}/bench/c100k.sh --connections=5000 --servers=2 --clients=2
           --peer-connections=0 --rounds=3 --timeout=100)
  set_tests_properties(scale_c5k PROPERTIES TIMEOUT 150 LABELS demo)
endif()
