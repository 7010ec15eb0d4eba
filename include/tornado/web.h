// tornado/web.h — the web framework: Application, RequestHandler, HTTPError (Tornado's `web`).
//
//   #include <tornado/web.h>
//   using namespace tornado;
//
//   struct MainHandler : web::RequestHandler {
//     Task<> get() override { write("Hello, world"); co_return; }
//   };
//
//   int main() {
//     web::Application app({{"/", web::handler<MainHandler>()}});
//     app.listen(8888);
//     IOLoop::current().start();
//   }
//
// The pieces, one header each (all included here):
//   web/errors.h           HTTPError, MissingArgumentError, Finish
//   web/settings.h         Settings (Tornado's keys and defaults), CookieOptions, OutputTransform
//   web/request_handler.h  RequestHandler: arguments, output, cookies, users, ETags, errors
//   web/application.h      Application (routing table + settings; the server's delegate),
//                          handler<H>(init args...), URLSpec
//   web/static.h           StaticFileHandler, static_handler<H>() (docs/static.md)
//   web/builtin_handlers.h RedirectHandler, ErrorHandler, FallbackHandler
//   web/gzip.h             GZipContentEncoding (the compress_response transform)
// Routing itself (Rule, PathMatches, HostMatches, reverse_url) is in routing.h.
// See docs/web.md for the request flow and what differs from Python Tornado.
#pragma once

#include "tornado/routing.h"
#include "tornado/web/application.h"
#include "tornado/web/builtin_handlers.h"
#include "tornado/web/errors.h"
#include "tornado/web/gzip.h"
#include "tornado/web/metrics_handler.h"
#include "tornado/web/request_handler.h"
#include "tornado/web/settings.h"
#include "tornado/web/event_source.h"
#include "tornado/web/static.h"
#include "tornado/web/ui_module.h"
