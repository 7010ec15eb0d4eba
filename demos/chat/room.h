// The chat's rooms on the pub/sub hub: one topic per room ("chat:<room>") with a history of
// the last messages (Tornado's MessageBuffer cache, shared by every loop thread and, with
// Redis, every process) and presence; the messages' JSON form.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "tornado/pubsub.h"
#include "tornado/web.h"

namespace chat {

struct Limits {
  std::size_t history = 200;            // messages kept per room (Tornado's cache_size)
  std::size_t max_rooms = 1000;         // rooms this process serves
  std::size_t max_body = 4096;          // bytes of one message
  std::size_t max_name = 32;            // characters of a user name
  std::size_t max_poll_leases = 10000;  // long-polling users present at once (per loop)
  tornado::Duration poll_timeout = std::chrono::seconds(25);  // a long poll answered empty
  // Messages one user may post: a burst of max_posts, refilled at max_posts per post_window
  // (0: no limit).
  std::size_t max_posts = 30;
  tornado::Duration post_window = std::chrono::seconds(10);
  // Names whose posting rate is tracked at once; past it a new poster gets 503.
  std::size_t max_posters = 100000;
};

// Room names: 1-64 of [A-Za-z0-9_-]. The default room is "lobby" (the page at /).
bool valid_room_name(std::string_view name) noexcept;
inline constexpr std::string_view kDefaultRoom = "lobby";

class Rooms {
 public:
  explicit Rooms(Limits limits) : limits_(limits) {}
  const Limits& limits() const noexcept { return limits_; }
  // Counts one message of `user` against Limits::max_posts (a token bucket per name, shared
  // by every loop thread); HTTPError 429 when the user has none left. Any thread.
  void count_post(std::string_view user);
  // The topic of a valid room, configured on first use (history, presence). HTTPError 400
  // for a bad name, 503 past max_rooms.
  std::string topic(std::string_view room);

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  Limits limits_;
  std::mutex mu_;
  std::set<std::string, std::less<>> rooms_;
  std::mutex posts_mu_;
  std::map<std::string, Bucket, std::less<>> posts_;
  std::chrono::steady_clock::time_point last_prune_{};
};

// A body as a form's get_argument gives it, whatever the transport: control characters
// other than \t \n \v \f \r made spaces, then stripped (so a blank WebSocket message is as
// empty as a blank form's).
void tidy_body(std::string& body);

// A new message from `from`: {"id", "from", "body", "time", "html"} with the html rendered
// by message.html (escaped, linkified), its body tidied. HTTPError 400 for an empty or
// oversized body.
nlohmann::json make_message(tornado::web::RequestHandler& handler, const Limits& limits,
                            std::string_view from, std::string body);

// A delivered message as the long-poll and page JSON carry it: its data plus "position".
nlohmann::json with_position(const tornado::pubsub::MessagePtr& m);
// The same as JSON text, spliced without parsing the message (the long poll's hot path):
// the chat's messages are JSON objects, so "position" is inserted after their "{".
std::string with_position_text(const tornado::pubsub::MessagePtr& m);

// Where a client resumes: a position ("<epoch>-<offset>"), or (as Tornado's chat sends) the id
// of the last message it has, looked up in the room's history (an id no longer there: a
// position that cannot be recovered). Empty: the whole history. nullopt: live only.
std::optional<tornado::pubsub::StreamPosition> resume_position(std::string_view topic,
                                                               std::string_view cursor);

// The members of a room's topic, as JSON [{"name": ...}, ...] sorted by name.
nlohmann::json members_json(std::string_view topic);

// The user name a signed "chatuser" cookie holds, or null.
nlohmann::json user_from_cookie(tornado::web::RequestHandler& handler);

}  // namespace chat
