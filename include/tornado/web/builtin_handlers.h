// tornado/web/builtin_handlers.h — RedirectHandler, ErrorHandler and FallbackHandler
// (Tornado's), part of web.h.
//
//   web::Application app({
//       {"/oldpath", web::handler<web::RedirectHandler>("/newpath")},
//       {"/(.*?)/(.*?)/(.*)", web::handler<web::RedirectHandler>("/{1}/{0}/{2}")},
//       {"/gone", web::handler<web::ErrorHandler>(410)},
//       {"/legacy/.*", web::handler<web::FallbackHandler>(raw_callback)},
//   });
//
// Thread rule: loop thread only, like every handler.
#pragma once

#include <string>

#include "tornado/httpserver.h"
#include "tornado/web/request_handler.h"

namespace tornado::web {

// Redirects GET requests to `url` (301 unless `permanent` is false: then 302). The URL is
// formatted like Python's str.format with the path arguments: `{0}`, `{1}` positional,
// `{name}` named groups, `{}` the next positional one, `{{`/`}}` literal braces; a field out
// of range, a format spec (`{0:>5}`) or a conversion (`{0!r}`) is an error (500, logged).
// The request's query arguments are appended (url_concat), as Tornado 5+ does.
class RedirectHandler : public RequestHandler {
 public:
  void initialize(std::string url, bool permanent = true);
  Task<> get() override;

 private:
  std::string url_;
  bool permanent_ = true;
};

// Python's str.format for RedirectHandler's URL: {N}, {name}, {}, {{, }}. Throws
// std::invalid_argument for anything else (unknown field, spec, conversion, stray brace).
std::string format_redirect_url(std::string_view pattern, const routing::PathArgs& args);

// Answers every request with `status_code` (the error page of that status). Skips the XSRF
// check: a POST to a URL that does not exist is 404, not 403 (Tornado's reason).
class ErrorHandler : public RequestHandler {
 public:
  void initialize(int status_code);
  Task<> prepare() override;
  void check_xsrf_cookie() override {}

 private:
  int status_code_ = 500;
};

// Hands the request to a raw HTTPServer callback (Tornado's FallbackHandler, which mounts a
// WSGIContainer): the callback gets the complete request (body parsed) in prepare() and
// answers through request.connection, before returning (the request does not outlive the
// handler; copy what you need to answer later). Tornado's seven methods reach it; any
// other is 405, as in Tornado.
class FallbackHandler : public RequestHandler {
 public:
  void initialize(HTTPServer::RequestCallback fallback);
  Task<> prepare() override;

 private:
  HTTPServer::RequestCallback fallback_;
};

}  // namespace tornado::web
