// The chat's handlers: Tornado's chat demo (the page, /a/message/new, /a/message/updates
// long polling) plus sign-in by name, rooms, and two more transports (WebSocket and
// Server-Sent Events) on the same rooms.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "room.h"
#include "tornado/ioloop.h"
#include "tornado/locks.h"
#include "tornado/metrics.h"
#include "tornado/pubsub.h"
#include "tornado/web.h"
#include "tornado/web/event_source.h"
#include "tornado/websocket.h"

namespace chat {

// Presence of long-polling users: between two polls a user holds no connection, so each poll
// renews a lease (a member subscription) that ends when no poll came for poll_timeout + 10 s.
// One per loop thread, destroyed before its loop.
class PollLeases {
 public:
  PollLeases(tornado::Duration linger, std::size_t max_leases);
  ~PollLeases();
  PollLeases(const PollLeases&) = delete;
  PollLeases& operator=(const PollLeases&) = delete;
  void renew(const std::string& topic, const std::string& user);

 private:
  void expire();
  struct Lease {
    tornado::pubsub::Subscription sub;
    std::chrono::steady_clock::time_point until;
  };
  tornado::Duration linger_;
  std::size_t max_leases_;
  bool sweeping_ = false;
  std::map<std::pair<std::string, std::string>, Lease> leases_;
  tornado::PeriodicCallback sweep_;
};

// Process-wide figures, also drawn by the dashboard (metrics::gauge): long polls waiting
// now, and presence leases of long-polling users.
tornado::metrics::Gauge& waiting_polls();
tornado::metrics::Gauge& poll_leases();

// GET /a/stats: the counters as JSON, e.g. for a test that a closed page left no waiter.
class StatsHandler : public tornado::web::RequestHandler {
 public:
  tornado::Task<> get() override;
};

// What every handler is given: the rooms (process-wide) and its loop's poll leases.
struct Context {
  Rooms* rooms;
  PollLeases* leases;
};

// The signed "chatuser" cookie is the user; pages need one (else the sign-in page).
template <typename Base>
class ChatBase : public Base {
 public:
  void initialize(Context context) { context_ = context; }
  nlohmann::json get_current_user() override { return user_from_cookie(*this); }

 protected:
  Rooms& rooms() { return *context_.rooms; }
  // The user's name (HTTPError 403 when signed out: for the XHR and socket endpoints).
  std::string user_name() {
    const auto& user = this->current_user();
    if (user.is_null()) throw tornado::web::HTTPError(403, {}, "Sign in first");
    return user["name"].template get<std::string>();
  }
  Context context_{};
};

// GET / and /room/<name>: the room's page with its recent messages.
class MainHandler : public ChatBase<tornado::web::RequestHandler> {
 public:
  tornado::Task<> get() override;
};

// GET: the sign-in form; POST name=...: the signed cookie, then back to `next`.
class AuthLoginHandler : public ChatBase<tornado::web::RequestHandler> {
 public:
  tornado::Task<> get() override;
  tornado::Task<> post() override;
};

class AuthLogoutHandler : public ChatBase<tornado::web::RequestHandler> {
 public:
  tornado::Task<> get() override;
};

// POST body=...&room=...: publishes a message; redirects to `next` (a form without script),
// else answers the message as JSON (Tornado's MessageNewHandler).
class MessageNewHandler : public ChatBase<tornado::web::RequestHandler> {
 public:
  tornado::Task<> post() override;
};

// POST cursor=...&room=...: the messages after `cursor` (a position, or a message id as
// Tornado's client sends), at once if there are any, else as soon as one arrives (or the
// room's members change, or poll_timeout passes). A browser that goes away ends the wait.
class MessageUpdatesHandler : public ChatBase<tornado::web::RequestHandler> {
 public:
  tornado::Task<> post() override;
  void on_connection_close() override;

 private:
  struct Wait;
  std::shared_ptr<Wait> wait_;
};

// GET /a/message/socket?room=...&since=<position>: a WebSocket. Messages arrive as
// "<position>\n<json>", presence and control events as plain JSON objects; the browser
// sends {"body": text}.
class MessageSocketHandler : public ChatBase<tornado::websocket::WebSocketHandler> {
 public:
  tornado::Task<> prepare() override;
  tornado::Task<> open() override;
  tornado::Task<> on_message(std::string message, bool binary) override;
  std::size_t max_message_size() const override;

 private:
  std::string name_;
  std::string topic_;
  tornado::pubsub::Subscription messages_;
  tornado::pubsub::Subscription presence_;
};

// GET /a/message/events?room=...&since=<position>: Server-Sent Events. Each message is an
// event whose id is its position (so a reconnecting browser's Last-Event-ID resumes it);
// "presence", "members" and "reload" events carry no id.
class MessageEventsHandler : public ChatBase<tornado::web::EventSourceHandler> {
 public:
  tornado::Task<> prepare() override;
  tornado::Task<> open() override;

 private:
  std::string topic_;
  tornado::pubsub::Subscription messages_;
  tornado::pubsub::Subscription presence_;
};

}  // namespace chat
