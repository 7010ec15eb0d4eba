# demos/file_upload end to end (tests/file_upload_demo.sh): server and file_uploader in
# separate processes, the SHA-256 they report checked against sha256sum.
if(TARGET file_upload AND TARGET file_uploader)
  add_test(NAME file_upload_demo
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/file_upload_demo.sh
                   $<TARGET_FILE:file_upload> $<TARGET_FILE:file_uploader>)
  set_tests_properties(file_upload_demo PROPERTIES TIMEOUT 120)
endif()
