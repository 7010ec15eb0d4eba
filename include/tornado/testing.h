// tornado/testing.h — GoogleTest support (Tornado's `testing`): everything in one include.
//
//   tornado/testing_core.h  AsyncTest, ExpectLog, bind_unused_port, get_async_test_timeout
//                           (the runtime only: no HTTP header)
//   tornado/testing_http.h  AsyncHTTPTest, AsyncHTTPSTest, HTTPApp
//
// A Tornado user includes this, as they would import tornado.testing; code below the HTTP
// layer (or that wants to compile faster) includes testing_core.h.
#pragma once

#include "tornado/testing_core.h"
#include "tornado/testing_http.h"
