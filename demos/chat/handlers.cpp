#include "handlers.h"

#include "tornado/draining.h"
#include "tornado/escape.h"
#include "tornado/log.h"

namespace chat {

using namespace tornado;
using pubsub::Hub;
using pubsub::Recovery;

namespace {

// `next` when it is a path on this site, else "/" (anything else is an open redirect).
// Browsers drop tabs and line breaks from a URL and read '\\' as '/', so "/\t/evil" and
// "/\\evil" lead off the site: no control character or space is let through at all.
std::string local_next(std::string_view next) {
  const bool plain =
      std::ranges::none_of(next, [](unsigned char c) { return c <= 0x20 || c == 0x7f; });
  if (plain && next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\")) {
    return std::string(next);
  }
  return "/";
}

// The name is shown to everyone: 1 to max_name characters (as the form's maxlength counts
// them, not bytes: a name in Cyrillic or with accents is as long as one in ASCII), no
// control characters. It is valid UTF-8 already (get_argument checks).
bool valid_user_name(std::string_view name, std::size_t max) {
  std::size_t characters = 0;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
    if ((c & 0xC0) != 0x80) ++characters;  // not a continuation byte: a new character
  }
  return characters >= 1 && characters <= max;
}

pubsub::Member member(const std::string& name) { return {name, {{"name", name}}}; }

// Counts a waiting long poll for as long as it lives (however its coroutine ends).
struct WaitingPoll {
  WaitingPoll() { waiting_polls().add(1); }
  ~WaitingPoll() { waiting_polls().add(-1); }
  WaitingPoll(const WaitingPoll&) = delete;
  WaitingPoll& operator=(const WaitingPoll&) = delete;
};

}  // namespace

metrics::Gauge& waiting_polls() {
  static metrics::Gauge& g = metrics::gauge("chat_longpoll_waiters");
  return g;
}

metrics::Gauge& poll_leases() {
  static metrics::Gauge& g = metrics::gauge("chat_poll_leases");
  return g;
}

Task<> StatsHandler::get() {
  write(nlohmann::json{{"waiting_polls", waiting_polls().value()},
                       {"poll_leases", poll_leases().value()}});
  co_return;
}

// ---- poll leases -------------------------------------------------------------------------

PollLeases::PollLeases(Duration linger, std::size_t max_leases)
    : linger_(linger),
      max_leases_(max_leases),
      sweep_([this] { expire(); }, std::chrono::seconds(5)) {}

void PollLeases::renew(const std::string& topic, const std::string& user) {
  auto key = std::make_pair(topic, user);
  auto it = leases_.find(key);
  if (it == leases_.end()) {
    if (leases_.size() >= max_leases_) {
      // The reason is what the client reads (the page shows "HTTP 503 ..." and retries).
      throw web::HTTPError(503, {},
                           "Poll lease limit (" + std::to_string(max_leases_) + ") reached");
    }
    pubsub::SubscribeOptions o;
    o.member = member(user);
    Lease lease;
    lease.sub = Hub::instance().subscribe(
        topic, [](const pubsub::MessagePtr&) {}, o);
    it = leases_.emplace(std::move(key), std::move(lease)).first;
    poll_leases().add(1);
  }
  it->second.until = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(linger_);
  if (!sweeping_) {
    sweeping_ = true;
    sweep_.start();
  }
}

void PollLeases::expire() {
  const auto now = std::chrono::steady_clock::now();
  const auto ended =
      std::erase_if(leases_, [now](const auto& entry) { return entry.second.until < now; });
  poll_leases().add(-static_cast<int64_t>(ended));
}

PollLeases::~PollLeases() {
  poll_leases().add(-static_cast<int64_t>(leases_.size()));
}

// ---- pages -------------------------------------------------------------------------------

Task<> MainHandler::get() {
  authenticated();
  const std::string room = path_arg_count() > 0 ? path_arg(0) : std::string(kDefaultRoom);
  const std::string topic = rooms().topic(room);
  // Every process's history (with Redis, read from it), and the position it ends at: where
  // the page's script resumes.
  auto history = co_await Hub::instance().fetch_history(topic);
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& m : history) messages.push_back(with_position(m));
  // No message yet: where the topic stands, if it has begun (else "": the whole history).
  pubsub::StreamPosition at =
      history.empty() ? Hub::instance().stats(topic).position : history.back()->position();
  const std::string position = at.epoch != 0 ? at.to_string() : "";
  render("index.html", {{"messages", std::move(messages)},
                        {"room", room},
                        {"position", position},
                        {"members", members_json(topic)}});
}

Task<> AuthLoginHandler::get() {
  render("login.html", {{"next", local_next(get_argument("next", "/"))}, {"error", ""}});
  co_return;
}

Task<> AuthLoginHandler::post() {
  const std::string name = get_argument("name");
  const std::string next = local_next(get_argument("next", "/"));
  if (!valid_user_name(name, rooms().limits().max_name)) {
    set_status(400);
    render("login.html", {{"next", next},
                          {"error", "A name is 1 to " + std::to_string(rooms().limits().max_name) +
                                        " characters, without control characters."}});
    co_return;
  }
  set_signed_cookie("chatuser", name);
  redirect(next);
}

Task<> AuthLogoutHandler::get() {
  clear_cookie("chatuser");
  redirect("/");
  co_return;
}

// ---- the long-polling transport (Tornado's chat) ------------------------------------------

Task<> MessageNewHandler::post() {
  const std::string name = user_name();
  const std::string topic = rooms().topic(get_argument("room", kDefaultRoom));
  rooms().count_post(name);
  nlohmann::json message = make_message(*this, rooms().limits(), name, get_argument("body"));
  const pubsub::StreamPosition at = Hub::instance().publish(topic, escape::json_encode(message));
  if (auto next = get_optional_argument("next")) {
    redirect(local_next(*next));
  } else {
    // Its position in the room, as the transports give it (not with Redis, which numbers the
    // message later).
    if (at.epoch != 0) message["position"] = at.to_string();
    write(message);
  }
  co_return;
}

// How long a waiting poll lets presence changes gather before it answers for them.
constexpr Duration kPresenceCoalesce = std::chrono::milliseconds(500);

struct MessageUpdatesHandler::Wait {
  std::vector<pubsub::MessagePtr> messages;
  bool members_changed = false;
  bool reload = false;
  bool recovering = false;  // the recovered messages come first, all at once
  bool gone = false;        // the browser went away
  locks::Event ready;
};

Task<> MessageUpdatesHandler::post() {
  const std::string name = user_name();
  const std::string topic = rooms().topic(get_argument("room", kDefaultRoom));
  const std::string cursor = get_argument("cursor", "");
  context_.leases->renew(topic, name);
  auto w = std::make_shared<Wait>();
  wait_ = w;
  pubsub::SubscribeOptions o;
  o.since = resume_position(topic, cursor);
  if (o.since) {
    w->recovering = true;
    o.on_recovery = [w](Recovery r) {
      w->recovering = false;
      w->reload = r == Recovery::kUnrecoverable;
      if (w->reload || !w->messages.empty() || w->members_changed) w->ready.set();
    };
  }
  auto& hub = Hub::instance();
  auto messages = hub.subscribe(
      topic,
      [w](const pubsub::MessagePtr& m) {
        w->messages.push_back(m);
        if (!w->recovering) w->ready.set();
      },
      o);
  // Presence wakes a waiting poll at most once per kPresenceCoalesce: a room where many users
  // join at once (a class, a broadcast starting) would otherwise answer every waiting poll
  // once per join, and each answer brings a new poll back (chatload: a room of 5,000).
  auto presence = hub.subscribe(Hub::presence_topic(topic), [w](const pubsub::MessagePtr&) {
    if (w->members_changed) return;  // a wake is already due
    w->members_changed = true;
    IOLoop::current().call_later(kPresenceCoalesce, [w] {
      if (!w->recovering) w->ready.set();
    });
  });
  // A draining server answers at once (with what it has): the browser polls again, and its
  // next poll reaches the process that serves the port now (docs/drain.md).
  auto drain_watch = tornado::draining::watch([w] { w->ready.set(); });
  try {
    WaitingPoll counted;
    co_await w->ready.wait(rooms().limits().poll_timeout);
  } catch (const TimeoutError&) {
    // Answered empty: proxies and browsers give up on requests that hang much longer.
  }
  const pubsub::StreamPosition began_at = messages.position();
  messages.cancel();
  presence.cancel();
  wait_.reset();
  if (w->gone) co_return;  // nobody to answer (Tornado's demo returns too)
  nlohmann::json out = nlohmann::json::object();
  // The member list only when it may have changed, or for a first poll: sorting a large
  // room's members for every message's answer cost more than the messages (chatload).
  if (w->members_changed || w->messages.empty() || cursor.empty()) {
    out["members"] = members_json(topic);
  }
  if (w->reload) out["reload"] = true;
  // Where the next poll resumes: after the last message, else where the topic stood.
  if (!w->messages.empty()) {
    out["cursor"] = w->messages.back()->position().to_string();
  } else if (began_at.epoch != 0 && !w->reload) {
    out["cursor"] = began_at.to_string();
  } else {
    out["cursor"] = w->reload ? "" : cursor;
  }
  // The messages are spliced in as text: parsing each again for every poll answered cost
  // more than the answer (chatload).
  std::string body = "{\"messages\":[";
  for (std::size_t i = 0; i < w->messages.size(); ++i) {
    if (i > 0) body += ',';
    body += with_position_text(w->messages[i]);
  }
  body += "],";
  body += std::string_view(escape::json_encode(out)).substr(1);  // cursor is always there
  set_header("Content-Type", "application/json; charset=UTF-8");
  write(body);
}

void MessageUpdatesHandler::on_connection_close() {
  if (!wait_) return;
  wait_->gone = true;
  wait_->ready.set();
}

// ---- WebSocket ---------------------------------------------------------------------------

Task<> MessageSocketHandler::prepare() {
  name_ = user_name();
  topic_ = rooms().topic(get_argument("room", kDefaultRoom));
  co_return;
}

Task<> MessageSocketHandler::open() {
  auto& hub = Hub::instance();
  presence_ = hub.subscribe(Hub::presence_topic(topic_), *this);
  pubsub::SubscribeOptions o;
  o.send_position = true;
  o.member = member(name_);
  o.since = resume_position(topic_, get_argument("since", ""));
  o.on_recovery = [this](Recovery r) {
    if (r == Recovery::kUnrecoverable && is_open()) (void)write_message(R"({"event":"reload"})");
  };
  messages_ = hub.subscribe(topic_, *this, o);
  if (is_open()) {
    (void)write_message(
        escape::json_encode({{"event", "members"}, {"members", members_json(topic_)}}));
  }
  co_return;
}

Task<> MessageSocketHandler::on_message(std::string message, bool binary) {
  auto parsed = nlohmann::json::parse(message, nullptr, /*allow_exceptions=*/false);
  if (binary || !parsed.is_object() || !parsed.contains("body") || !parsed["body"].is_string()) {
    close(1003, "expected a JSON object {\"body\": text}");
    co_return;
  }
  std::string body = parsed["body"].get<std::string>();
  try {
    rooms().count_post(name_);
    nlohmann::json chat = make_message(*this, rooms().limits(), name_, std::move(body));
    Hub::instance().publish(topic_, escape::json_encode(chat));
  } catch (const web::HTTPError& e) {  // empty, too long or too many: said to this client only
    (void)write_message(escape::json_encode({{"event", "error"}, {"message", e.reason()}}));
  }
}

std::size_t MessageSocketHandler::max_message_size() const {
  // A body at the limit in any client's JSON: an escape (\u0001, or \u00e9 as Python
  // writes non-ASCII) takes up to 6 bytes per byte of the body.
  return 6 * context_.rooms->limits().max_body + 1024;
}

// ---- Server-Sent Events ------------------------------------------------------------------

Task<> MessageEventsHandler::prepare() {
  (void)user_name();
  topic_ = rooms().topic(get_argument("room", kDefaultRoom));
  co_return;
}

Task<> MessageEventsHandler::open() {
  auto& hub = Hub::instance();
  presence_ = hub.subscribe(Hub::presence_topic(topic_), [this](const pubsub::MessagePtr& m) {
    if (is_open()) (void)send(m->data(), "presence");  // no id: Last-Event-ID stays a message's
  });
  const std::string name = current_user()["name"].get<std::string>();
  pubsub::SubscribeOptions o;
  o.member = member(name);
  o.since = resume_position(topic_, last_event_id() ? *last_event_id() : get_argument("since", ""));
  o.on_recovery = [this](Recovery r) {
    if (r == Recovery::kUnrecoverable && is_open()) (void)send("{}", "reload");
  };
  messages_ = hub.subscribe(topic_, *this, o);
  if (is_open()) {
    (void)send(escape::json_encode({{"members", members_json(topic_)}}), "members", {},
               std::chrono::seconds(1));  // retry: reconnect after 1 s
  }
  co_return;
}

}  // namespace chat
