// The dashboard's routes: the page and its assets (built into the binary), and the two
// transports that deliver the samples (history first, then live, through the hub).
#include <string>

#include "dashboard.h"
#include "embedded_assets.h"
#include "tornado/log.h"
#include "tornado/pubsub.h"
#include "tornado/web/event_source.h"
#include "tornado/websocket.h"

namespace dashboard {

const demo::AssetMap& embedded_assets();  // written by demos/common/embed_assets.cmake

using namespace tornado;

namespace {

// The topic's history as one JSON array (the messages are JSON objects already), and the
// position to subscribe after so that no sample is missed or repeated.
struct History {
  std::string json;
  std::optional<pubsub::StreamPosition> last;
};

Task<History> read_history(const std::string& topic) {
  auto messages = co_await pubsub::Hub::instance().fetch_history(topic);
  History h;
  h.json.push_back('[');  // (not = "[": g++ 12 -Wrestrict false positive)
  for (const auto& m : messages) {
    if (h.json.size() > 1) h.json += ',';
    h.json += m->data();
  }
  h.json += ']';
  if (!messages.empty()) h.last = messages.back()->position();
  co_return h;
}

// `head` + `json` + "}" (appended: g++ 12's -Wrestrict misreads the operator+ chain).
std::string wrap(std::string_view head, const std::string& json) {
  std::string out;
  out.reserve(head.size() + json.size() + 1);
  out.append(head).append(json).push_back('}');
  return out;
}

pubsub::SubscribeOptions after(const History& h) {
  pubsub::SubscribeOptions o;
  o.since = h.last;
  return o;
}

// static/<name>, built into the binary (demo_embed_assets).
std::string_view asset(std::string_view name) {
  const auto& assets = embedded_assets();
  auto it = assets.find("static/" + std::string(name));
  if (it == assets.end()) throw std::out_of_range("no dashboard asset " + std::string(name));
  return it->second;
}

struct PageHandler : web::RequestHandler {
  Task<> get() override {
    set_header("Content-Type", "text/html; charset=UTF-8");
    set_header("Cache-Control", "no-cache");
    write(asset("index.html"));
    co_return;
  }
};

struct AssetHandler : web::RequestHandler {
  Task<> get() override {
    const std::string name = path_arg(0);
    set_header("Content-Type", name.ends_with(".css") ? "text/css; charset=UTF-8"
                                                      : "application/javascript; charset=UTF-8");
    set_header("Cache-Control", "no-cache");  // revalidated by ETag (304)
    write(asset(name));
    co_return;
  }
};

// The history as one message {"history":[...]}, then every sample as it is published.
struct SampleSocket : websocket::WebSocketHandler {
  void initialize(const std::string& topic) { topic_ = topic; }
  Task<> open() override {
    History h = co_await read_history(topic_);
    try {
      (void)write_message(wrap("{\"history\":", h.json));
      sub_ = pubsub::Hub::instance().subscribe(topic_, *this, after(h));
    } catch (const websocket::WebSocketClosedError&) {
      // The page went away while the history was read.
    }
  }
  Task<> on_message(std::string, bool) override { co_return; }  // the page sends nothing
  std::size_t max_message_size() const override { return 1024; }

  std::string topic_;
  pubsub::Subscription sub_;
};

// The same over Server-Sent Events: an event "history", then one message event per sample.
struct SampleStream : web::EventSourceHandler {
  void initialize(const std::string& topic) { topic_ = topic; }
  Task<> open() override {
    History h = co_await read_history(topic_);
    if (!is_open()) co_return;
    (void)send(h.json, "history", {}, Duration(1.0));
    sub_ = pubsub::Hub::instance().subscribe(topic_, *this, after(h));
  }

  std::string topic_;
  pubsub::Subscription sub_;
};

struct SamplesJson : web::RequestHandler {
  void initialize(const std::string& topic) { topic_ = topic; }
  Task<> get() override {
    History h = co_await read_history(topic_);
    set_header("Content-Type", "application/json");
    write(wrap("{\"samples\":", h.json));
  }
  std::string topic_;
};

std::string regex_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::vector<web::URLSpec> routes(std::string prefix, std::string topic) {
  while (prefix.ends_with('/')) prefix.pop_back();
  if (!prefix.empty() && !prefix.starts_with('/')) {
    throw std::invalid_argument("dashboard::routes: the prefix must start with '/'");
  }
  const std::string p = regex_escape(prefix);
  std::vector<web::URLSpec> rules;
  if (!prefix.empty())
    rules.emplace_back(p, web::handler<web::RedirectHandler>(prefix + "/", false));
  rules.emplace_back(p + "/", web::handler<PageHandler>());
  rules.emplace_back(p + "/static/(dashboard\\.js|dashboard\\.css)", web::handler<AssetHandler>());
  rules.emplace_back(p + "/ws", web::handler<SampleSocket>(topic));
  rules.emplace_back(p + "/events", web::handler<SampleStream>(topic));
  rules.emplace_back(p + "/samples\\.json", web::handler<SamplesJson>(topic));
  return rules;
}

}  // namespace dashboard
