#include "room.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "tornado/escape.h"

namespace chat {

using namespace tornado;

namespace {

std::string new_id() {  // uuid4().hex's shape, as Tornado's demo: 32 hex digits
  thread_local std::mt19937_64 gen{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(gen()),
                static_cast<unsigned long long>(gen()));
  return buf;
}

}  // namespace

bool valid_room_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string Rooms::topic(std::string_view room) {
  if (!valid_room_name(room)) {
    throw web::HTTPError(400, {}, "Room names are 1-64 letters, digits, '_' or '-'");
  }
  std::string name = "chat:" + std::string(room);
  std::lock_guard lock(mu_);
  if (rooms_.contains(room)) return name;
  if (rooms_.size() >= limits_.max_rooms) {
    throw web::HTTPError(503, {}, "Room limit (" + std::to_string(limits_.max_rooms) + ") reached");
  }
  pubsub::TopicOptions options;
  options.history_size = limits_.history;
  options.track_members = true;
  pubsub::Hub::instance().configure(name, options);
  rooms_.emplace(room);
  return name;
}

void Rooms::count_post(std::string_view user) {
  if (limits_.max_posts == 0) return;
  const auto now = std::chrono::steady_clock::now();
  const double burst = static_cast<double>(limits_.max_posts);
  const double per_second = burst / std::chrono::duration<double>(limits_.post_window).count();
  std::lock_guard lock(posts_mu_);
  auto it = posts_.find(user);
  if (it == posts_.end()) {
    // Bounded by max_posters names. When full, those idle a whole window (their bucket full
    // again) go, at most once per window: a scan per post would cost O(names) each.
    if (posts_.size() >= limits_.max_posters && now - last_prune_ >= limits_.post_window) {
      last_prune_ = now;
      std::erase_if(posts_, [&](const auto& entry) {
        return std::chrono::duration<double>(now - entry.second.at).count() * per_second +
                   entry.second.tokens >=
               burst;
      });
    }
    if (posts_.size() >= limits_.max_posters) {
      throw web::HTTPError(503, {},
                           "Too many users posting at once (" +
                               std::to_string(limits_.max_posters) + "): try again shortly");
    }
    it = posts_.emplace(std::string(user), Bucket{burst, now}).first;
  }
  Bucket& b = it->second;
  b.tokens =
      std::min(burst, b.tokens + std::chrono::duration<double>(now - b.at).count() * per_second);
  b.at = now;
  if (b.tokens < 1.0) {
    throw web::HTTPError(
        429, {},
        "Too many messages: at most " + std::to_string(limits_.max_posts) + " in " +
            std::to_string(
                std::chrono::duration_cast<std::chrono::seconds>(limits_.post_window).count()) +
            " s");
  }
  b.tokens -= 1.0;
}

void tidy_body(std::string& body) {
  for (char& c : body) {
    if ((c >= '\x00' && c <= '\x08') || (c >= '\x0e' && c <= '\x1f')) c = ' ';
  }
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  std::size_t end = body.size();
  while (end > 0 && space(body[end - 1])) --end;
  std::size_t begin = 0;
  while (begin < end && space(body[begin])) ++begin;
  body = body.substr(begin, end - begin);
}

nlohmann::json make_message(web::RequestHandler& handler, const Limits& limits,
                            std::string_view from, std::string body) {
  tidy_body(body);
  if (body.empty()) throw web::HTTPError(400, {}, "Empty message");
  if (body.size() > limits.max_body) {
    throw web::HTTPError(400, {}, "Message over " + std::to_string(limits.max_body) + " bytes");
  }
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  nlohmann::json message = {
      {"id", new_id()},
      {"from", from},
      {"body", std::move(body)},
      {"time", std::chrono::duration_cast<std::chrono::milliseconds>(now).count()}};
  message["html"] = handler.render_string("message.html", {{"message", message}});
  return message;
}

nlohmann::json with_position(const pubsub::MessagePtr& m) {
  nlohmann::json j = nlohmann::json::parse(m->data(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) j = nlohmann::json::object();
  j["position"] = m->position().to_string();
  return j;
}

std::string with_position_text(const pubsub::MessagePtr& m) {
  const std::string_view data = m->data();
  if (data.size() < 2 || data.front() != '{' || data.back() != '}') {
    return escape::json_encode(with_position(m));  // not one of ours: parsed the slow way
  }
  std::string out = "{\"position\":\"" + m->position().to_string() + "\"";
  const std::string_view fields = data.substr(1);  // "...}" or "}"
  if (fields.find_first_not_of(" \t\r\n") != fields.size() - 1) out += ',';
  out += fields;
  return out;
}

std::optional<pubsub::StreamPosition> resume_position(std::string_view topic,
                                                      std::string_view cursor) {
  auto& hub = pubsub::Hub::instance();
  if (cursor.empty()) {
    // Everything the room still has (Tornado's demo answers a poll without a cursor with
    // its whole cache): from just before the oldest message kept, else from where the topic
    // stands. A topic this process has not heard of yet: live only.
    auto history = hub.history(topic);
    if (!history.empty()) {
      auto p = history.front()->position();
      p.offset -= 1;
      return p;
    }
    auto now = hub.stats(topic).position;
    return now.epoch != 0 ? std::optional(now) : std::nullopt;
  }
  if (auto p = pubsub::StreamPosition::parse(cursor)) return p;
  for (const auto& m : hub.history(topic)) {
    auto j = nlohmann::json::parse(m->data(), nullptr, false);
    if (j.is_object() && j.value("id", "") == cursor) return m->position();
  }
  // An id no longer in the history: recovery from a position that cannot be recovered
  // (epoch 0), which the client hears as "reload".
  return pubsub::StreamPosition{};
}

nlohmann::json members_json(std::string_view topic) {
  auto members = pubsub::Hub::instance().members(topic);
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.client_id < b.client_id; });
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : members) list.push_back({{"name", m.client_id}});
  return list;
}

nlohmann::json user_from_cookie(web::RequestHandler& handler) {
  auto name = handler.get_signed_cookie("chatuser");
  if (!name || name->empty()) return nullptr;
  return {{"name", *name}};
}

}  // namespace chat
