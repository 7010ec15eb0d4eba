// pubsub: the Redis backend (see internal/pubsub_redis.h for the design).
#include "internal/pubsub_redis.h"

#include <charconv>

#include "internal/describe_exception.h"
#include "internal/pubsub_state.h"
#include "internal/pubsub_wire.h"
#include "tornado/log.h"
#include "tornado/metrics.h"

namespace tornado::pubsub::detail {

namespace {

// Numbers the message, gives the topic an epoch the first time (or after Redis lost its
// data: the history starts again with it), appends it to the topic's history stream when
// the publisher keeps one, and publishes "<epoch> <offset> <payload>" on the topic's
// channel, atomically: the order of the numbers is the order in which every subscriber
// receives them, and the stream holds them in that order.
// KEYS: offset, epoch, channel, stream. ARGV: payload, a new epoch, history size, ttl (ms).
constexpr const char* kPublishScript = R"LUA(
local offset = redis.call('INCR', KEYS[1])
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', KEYS[2], epoch)
  redis.call('DEL', KEYS[4])
end
local size = tonumber(ARGV[3])
if size > 0 then
  local t = redis.call('TIME')
  local now = t[1] * 1000 + math.floor(t[2] / 1000)
  local id = offset .. '-0'
  local added = redis.pcall('XADD', KEYS[4], 'MAXLEN', size, id, 'm', ARGV[1], 't', now)
  if type(added) == 'table' and added.err then
    -- The stream is ahead of the counter (the counter was lost, the stream was not): its
    -- positions would repeat, so the topic starts a new epoch with a new stream.
    epoch = ARGV[2]
    redis.call('SET', KEYS[2], epoch)
    redis.call('DEL', KEYS[4])
    redis.call('XADD', KEYS[4], 'MAXLEN', size, id, 'm', ARGV[1], 't', now)
  end
  local ttl = tonumber(ARGV[4])
  if ttl > 0 then
    local oldest = redis.call('XRANGE', KEYS[4], '-', '+', 'COUNT', 64)
    local expired = nil
    for _, e in ipairs(oldest) do
      if tonumber(e[2][4]) >= now - ttl then break end
      expired = e[1]
    end
    if expired then
      redis.call('XTRIM', KEYS[4], 'MINID', (tonumber(string.match(expired, '^%d+')) + 1) .. '-0')
    end
    redis.call('PEXPIRE', KEYS[4], ttl)
  end
end
redis.call('PUBLISH', KEYS[3], epoch .. ' ' .. offset .. ' ' .. ARGV[1])
return offset
)LUA";

// Reads a topic's history: its epoch ("" if it has none) and last offset, and its stream's
// entries from id ARGV[1] on (at most ARGV[2]), or the newest ARGV[2] when ARGV[1] is "";
// with a ttl (ARGV[3], ms) only the entries younger than it; and at most ARGV[4] bytes of
// messages (at least one entry), so that no reply passes the connection's reply bound: the
// 4th element is 1 when entries were left for another page (from ARGV[1] on: the next ones;
// for the newest: the older ones are simply not read). Each entry: {id, {"m", encoded, "t",
// ms}}. KEYS: epoch, offset, stream.
constexpr const char* kReadScript = R"LUA(
local epoch = redis.call('GET', KEYS[1]) or ''
local offset = redis.call('GET', KEYS[2]) or '0'
local newest_first = ARGV[1] == ''
local count = tonumber(ARGV[2])
local oldest = nil
if tonumber(ARGV[3]) > 0 then
  local t = redis.call('TIME')
  oldest = t[1] * 1000 + math.floor(t[2] / 1000) - tonumber(ARGV[3])
end
local budget = tonumber(ARGV[4])
local kept, bytes, more = {}, 0, 0
-- In batches of 16 entries: a stream of large messages is never loaded whole.
local bound = newest_first and '+' or ARGV[1]
while #kept < count and more == 0 do
  local n = math.min(16, count - #kept)
  local batch
  if newest_first then
    batch = redis.call('XREVRANGE', KEYS[3], bound, '-', 'COUNT', n)
  else
    batch = redis.call('XRANGE', KEYS[3], bound, '+', 'COUNT', n)
  end
  if #batch == 0 then break end
  for _, e in ipairs(batch) do
    if oldest == nil or tonumber(e[2][4]) >= oldest then
      bytes = bytes + #e[2][2]
      if bytes > budget and #kept > 0 then
        more = 1
        break
      end
      kept[#kept + 1] = e
    end
  end
  bound = '(' .. batch[#batch][1]
  if #batch < n then break end
end
if newest_first then
  local ordered = {}
  for i = #kept, 1, -1 do ordered[#ordered + 1] = kept[i] end
  kept = ordered
end
return {epoch, offset, kept, more}
)LUA";

// A joiner's read: the topic's epoch ("" if none) and last offset, and its stream's entries
// published at or after ARGV[1] (ms, Redis's clock), oldest first, with 1 when that is every
// one of them (an older entry was met, or the stream never lost an entry, or there is no
// stream: a publish since would have made it) and 0 when some may be gone (more than ARGV[2]
// entries or ARGV[3] bytes of them, or a ttl (ARGV[4], ms) shorter than the time since the
// floor), then Redis's clock (ms). KEYS: epoch, offset, stream.
constexpr const char* kJoinReadScript = R"LUA(
local epoch = redis.call('GET', KEYS[1]) or ''
local offset = redis.call('GET', KEYS[2]) or '0'
local floor = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
if epoch == '' then return {epoch, offset, {}, 1, now} end
if ttl > 0 and now - floor >= ttl then return {epoch, offset, {}, 0, now} end
local kept, bytes, complete = {}, 0, 0
local bound = '+'
while true do
  local batch = redis.call('XREVRANGE', KEYS[3], bound, '-', 'COUNT', 16)
  for _, e in ipairs(batch) do
    if tonumber(e[2][4]) < floor then
      complete = 1
      break
    end
    bytes = bytes + #e[2][2]
    if #kept >= limit or bytes > budget then return {epoch, offset, {}, 0, now} end
    kept[#kept + 1] = e
  end
  if complete == 1 or #batch < 16 then break end
  bound = '(' .. batch[#batch][1]
end
if complete == 0 then
  if redis.call('EXISTS', KEYS[3]) == 0 then
    complete = 1
  else
    local info = redis.call('XINFO', 'STREAM', KEYS[3])
    for i = 1, #info - 1, 2 do
      if info[i] == 'max-deleted-entry-id' and info[i + 1] == '0-0' then complete = 1 end
    end
  end
end
local ordered = {}
for i = #kept, 1, -1 do ordered[#ordered + 1] = kept[i] end
return {epoch, offset, ordered, complete, now}
)LUA";

// (UN)SUBSCRIBE on the subscriber connection. A failure means the connection is lost: the
// reconnection subscribes to every topic in use again.
Task<> channel_command(std::shared_ptr<redis::Connection> c, const char* verb, std::string channel) {
  try {
    co_await c->command(verb, channel);
  } catch (...) {
  }
}

constexpr Duration kFirstBackoff = std::chrono::milliseconds(100);
// Bytes of messages one history read asks for (a reply stays far below the connection's
// 64 MiB reply bound; a single larger message is still read, alone).
constexpr std::size_t kHistoryPageBytes = 8 * 1024 * 1024;
constexpr Duration kMaxBackoff = std::chrono::seconds(5);
constexpr Duration kClockInterval = std::chrono::seconds(1);

// "<n>-0", a history entry's id, gives n.
std::optional<uint64_t> entry_offset(std::string_view id) {
  uint64_t n = 0;
  auto r = std::from_chars(id.data(), id.data() + id.size(), n);
  if (r.ec != std::errc() || std::string_view(r.ptr, id.data() + id.size() - r.ptr) != "-0") {
    return std::nullopt;
  }
  return n;
}

std::string random_epoch() {
  char buf[20];
  auto r = std::to_chars(buf, buf + sizeof buf, new_epoch_value(), 16);
  return std::string(buf, r.ptr);
}

}  // namespace

RedisBackend::RedisBackend(std::weak_ptr<HubState> hub, RedisOptions options)
    : hub_(std::move(hub)), options_(std::move(options)) {}

RedisBackend::HistoryBounds RedisBackend::HistoryBounds::of(const TopicOptions& o) {
  HistoryBounds b;
  b.size = o.history_size;
  if (o.history_ttl) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*o.history_ttl).count();
    b.ttl_ms = std::max<int64_t>(1, static_cast<int64_t>(ms));
  }
  return b;
}

Task<> RedisBackend::connect_both() {
  auto cmd = co_await redis::Connection::connect(options_.host, options_.port,
                                                 options_.connect_timeout);
  std::shared_ptr<redis::Connection> sub;
  try {
    co_await sample_clock(cmd);
    sub = co_await redis::Connection::connect(options_.host, options_.port,
                                              options_.connect_timeout);
  } catch (...) {
    cmd->close();
    throw;
  }
  std::weak_ptr<RedisBackend> weak = weak_from_this();
  sub->set_message_callback([weak](std::string_view channel, std::string_view payload) {
    if (auto self = weak.lock()) self->on_message(channel, payload);
  });
  lost_connection_ = Future<void>();
  auto on_close = [weak] {
    if (auto self = weak.lock()) self->connection_lost();
  };
  cmd->set_close_callback(on_close);
  sub->set_close_callback(on_close);
  cmd_ = std::move(cmd);
  sub_ = std::move(sub);
  const uint64_t connection = ++connections_;
  catching_up_.clear();  // an earlier connection's: its messages come again from the history
  // The topics with a history catch up on what they missed while Redis was away: their live
  // messages are held from their SUBSCRIBE on, until the history read says what came first.
  std::vector<std::pair<std::string, HistoryBounds>> catch_ups;
  if (auto hub = hub_.lock()) {
    for (const auto& topic : used_) {
      std::shared_ptr<Topic> t = hub->find(topic);
      if (!t) continue;
      std::lock_guard lock(t->mu);
      if (t->options->history_size == 0 || t->offset == 0) continue;
      catch_ups.emplace_back(topic, HistoryBounds::of(*t->options));
      catching_up_[topic].connection = connection;
    }
  }
  // Topics may become used while this waits: each is subscribed once, the late ones too.
  std::set<std::string> subscribed;
  for (bool more = true; more;) {
    more = false;
    for (const auto& topic : std::vector<std::string>(used_.begin(), used_.end())) {
      if (!subscribed.insert(topic).second) continue;
      co_await sub_->command("SUBSCRIBE", options_.prefix + topic);
      more = true;
    }
  }
  connected_ = true;
  for (const auto& topic : subscribed) went_live(topic);
  for (auto& [topic, bounds] : catch_ups) {
    spawn_detached(catch_up(topic, bounds, connection), [](std::exception_ptr) {});
  }
  while (!outbox_.empty() && connected_) {
    Outgoing item = std::move(outbox_.front());
    outbox_.pop_front();
    send(std::move(item));
  }
}

Task<> RedisBackend::catch_up(std::string topic, HistoryBounds bounds, uint64_t connection) {
  auto keep = shared_from_this();
  std::optional<uint64_t> after;
  if (auto hub = hub_.lock()) {
    if (std::shared_ptr<Topic> t = hub->find(topic)) {
      std::lock_guard lock(t->mu);
      after = t->offset;
    }
  }
  HistoryRead read;
  if (after) read = co_await this->read(topic, after, bounds);
  auto it = catching_up_.find(topic);
  if (it == catching_up_.end() || it->second.connection != connection) co_return;
  std::vector<std::string> held = std::move(it->second.held);
  catching_up_.erase(it);
  auto hub = hub_.lock();
  if (!hub) co_return;
  if (read.ok) {
    for (auto& m : read.messages) {
      std::shared_ptr<Topic> t = hub->find(topic);
      if (!t) break;
      const StreamPosition position = m->position();
      std::lock_guard lock(t->mu);
      t->publish_locked(std::move(m), position);
    }
  }
  const std::string channel = options_.prefix + topic;
  for (const auto& payload : held) on_message(channel, payload);
}

Task<> RedisBackend::start() {
  home_ = IOLoop::current().ref();
  co_await connect_both();
  arm_clock();
  spawn_detached([](std::shared_ptr<RedisBackend> self) -> Task<> { co_await self->run(); }(
                     shared_from_this()),
                 [](std::exception_ptr) {});
}

// Waits for a loss, then reconnects with backoff, until stop().
Task<> RedisBackend::run() {
  Duration backoff = kFirstBackoff;
  while (!stopping_) {
    if (connected_) {
      co_await Future<void>(lost_connection_);
      continue;
    }
    co_await sleep(backoff);
    if (stopping_) break;
    try {
      co_await connect_both();
      gen_log().info("pubsub: reconnected to Redis at {}:{}", options_.host, options_.port);
      metrics::detail::redis_reconnected();
      backoff = kFirstBackoff;
    } catch (...) {
      gen_log().warn("pubsub: cannot reach Redis at {}:{}: {}", options_.host, options_.port,
                     tornado::detail::describe_exception(std::current_exception()));
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }
}

void RedisBackend::connection_lost() {
  if (!connected_ && !cmd_) return;
  if (connected_) {
    gen_log().warn("pubsub: lost the connection to Redis at {}:{}", options_.host, options_.port);
  }
  connected_ = false;
  if (sub_) {
    sub_->set_close_callback(nullptr);
    sub_->close();
    sub_.reset();
  }
  if (cmd_) {
    // Often only the subscriber connection is lost (Redis drops a subscriber that fell
    // behind its output buffer limit): the publishes already sent on this one are still
    // answered, not given up with it (and counted lost). A stop gives them up.
    cmd_->set_close_callback(nullptr);
    if (stopping_) {
      cmd_->close();
    } else {
      cmd_->close_when_answered(options_.connect_timeout);
      std::erase_if(retired_, [](const auto& c) { return c.expired(); });
      retired_.push_back(cmd_);
    }
    cmd_.reset();
  }
  if (stopping_) {
    for (auto& weak : retired_) {
      if (auto c = weak.lock()) c->close();
    }
    retired_.clear();
  }
  if (!lost_connection_.done()) lost_connection_.set_result();
}

void RedisBackend::stop() {
  stopping_ = true;
  if (clock_timer_) {
    IOLoop* here = IOLoop::current_or_null();
    if (here && home_.refers_to(*here)) here->remove_timeout(clock_timer_);
    clock_timer_ = {};
  }
  connected_ = false;  // a close, not a loss: nothing to warn about
  connection_lost();
}

void RedisBackend::publish(const std::string& topic, std::string payload,
                           HistoryBounds history) {
  auto self = shared_from_this();
  Outgoing out{topic, std::move(payload), history};
  if (!home_.add_callback([self, out = std::move(out)]() mutable {
        if (self->connected_) {
          self->send(std::move(out));
        } else if (self->outbox_.size() < self->options_.outbox_limit) {
          self->outbox_.push_back(std::move(out));
        } else {
          self->lost_.fetch_add(1, std::memory_order_relaxed);
        }
      })) {
    lost_.fetch_add(1, std::memory_order_relaxed);  // the home loop is gone
  }
}

void RedisBackend::send(Outgoing item) {
  spawn_detached(send_one(cmd_, std::move(item)), [](std::exception_ptr) {});
}

Task<> RedisBackend::send_one(std::shared_ptr<redis::Connection> c, Outgoing item) {
  auto keep = shared_from_this();  // a retired connection may answer after the hub is gone
  const std::string& p = options_.prefix;
  const std::string& topic = item.topic;
  try {
    co_await c->command("EVAL", kPublishScript, "4", p + "offset:" + topic, p + "epoch:" + topic,
                        p + topic, p + "history:" + topic, item.payload, random_epoch(),
                        std::to_string(item.history.size), std::to_string(item.history.ttl_ms));
  } catch (const redis::RedisError& e) {
    lost_.fetch_add(1, std::memory_order_relaxed);
    gen_log().error("pubsub: Redis refused a publish to {}: {}", topic, e.what());
  } catch (...) {
    // Sent or not, nobody can tell: counted as lost (at most once).
    lost_.fetch_add(1, std::memory_order_relaxed);
  }
}

void RedisBackend::topic_used(const std::string& topic) {
  auto self = shared_from_this();
  home_.add_callback([self, topic] { self->reconcile(topic); });
}

void RedisBackend::topic_unused(const std::string& topic) { topic_used(topic); }

// Decided by what the topic has when this runs, not by the order of the calls: the last
// subscriber leaving on one thread and a first one arriving on another post theirs in
// either order.
void RedisBackend::reconcile(const std::string& topic) {
  bool wanted = false;
  if (auto hub = hub_.lock()) {
    if (std::shared_ptr<Topic> t = hub->find(topic)) {
      std::lock_guard lock(t->mu);
      wanted = !t->locals.empty();
    }
  }
  if (wanted) {
    if (used_.insert(topic).second) {
      if (connected_) subscribed_[topic] = spawn(subscribe_topic(topic));
    } else if (auto it = subscribed_.find(topic);
               connected_ && it != subscribed_.end() && it->second.done()) {
      went_live(topic);  // subscribed all along: joiners since the last subscriber left
    }
    return;
  }
  subscribed_.erase(topic);
  if (used_.erase(topic) == 0 || !connected_) return;
  spawn_detached(channel_command(sub_, "UNSUBSCRIBE", options_.prefix + topic),
                 [](std::exception_ptr) {});
}

Task<> RedisBackend::subscribe_topic(std::string topic) {
  auto keep = shared_from_this();
  if (subscribe_gate_for_test) co_await subscribe_gate_for_test(topic);
  auto c = sub_;
  if (!c || !used_.count(topic)) co_return;
  try {
    co_await c->command("SUBSCRIBE", options_.prefix + topic);
  } catch (...) {
    co_return;  // the connection is lost: the reconnection subscribes again
  }
  if (c == sub_) went_live(topic);
}

void RedisBackend::went_live(const std::string& topic) {
  auto hub = hub_.lock();
  if (!hub) return;
  std::shared_ptr<Topic> t = hub->find(topic);
  if (!t) return;
  std::vector<Topic::Joiner> joiners;
  HistoryBounds bounds;
  {
    std::lock_guard lock(t->mu);
    if (t->locals.empty()) return;  // unused again: reconcile unsubscribes
    t->redis_live = true;
    joiners.swap(t->joiners);
    bounds = stream_bounds(*t->options);
  }
  if (joiners.empty()) return;
  int64_t floor = INT64_MAX;
  for (const auto& j : joiners) floor = std::min(floor, j.floor_ms);
  spawn_detached(fill_joiners(topic, floor, bounds, std::move(joiners)), [](std::exception_ptr) {});
}

// One read for every joiner of the topic (from the earliest floor: a later one may get a few
// messages from just before it subscribed, never a gap).
Task<> RedisBackend::fill_joiners(std::string topic, int64_t floor_ms, HistoryBounds bounds,
                                  std::vector<Topic::Joiner> joiners) {
  auto keep = shared_from_this();
  auto read = std::make_shared<const HistoryRead>(co_await read_since_time(topic, floor_ms, bounds));
  for (auto& j : joiners) {
    j.loop.add_callback([s = j.subscription, read] {
      if (auto locked = s.lock()) finish_join(locked, *read);
    });
  }
}

Task<HistoryRead> RedisBackend::read_since_time(std::string topic, int64_t floor_ms,
                                                HistoryBounds bounds) {
  HistoryRead result;
  auto keep = shared_from_this();
  if (read_gate_for_test) co_await read_gate_for_test(topic);
  if (!connected_ || !cmd_) co_return result;
  auto c = cmd_;
  const std::string& p = options_.prefix;
  try {
    redis::Reply reply = co_await c->command(
        "EVAL", kJoinReadScript, "3", p + "epoch:" + topic, p + "offset:" + topic,
        p + "history:" + topic, std::to_string(floor_ms), std::to_string(bounds.size),
        std::to_string(kHistoryPageBytes), std::to_string(bounds.ttl_ms));
    const auto received = std::chrono::steady_clock::now();
    using Type = redis::Reply::Type;
    const auto& e = reply.elements;
    if (reply.type != Type::kArray || e.size() != 5 || e[2].type != Type::kArray ||
        e[3].type != Type::kInteger || e[4].type != Type::kInteger) {
      throw redis::ProtocolError("an unexpected reply: " + reply.describe());
    }
    clock_read(e[4].integer, received);
    result.complete = e[3].integer == 1;
    if (e[0].str.empty()) {  // never published
      result.ok = true;
      co_return result;
    }
    auto head = StreamPosition::parse(e[0].str + "-" + e[1].str);
    if (!head) throw redis::ProtocolError("a bad epoch or offset: " + reply.describe());
    result.head = *head;
    for (const auto& entry : e[2].elements) {
      const auto& fields = entry.elements;
      std::optional<uint64_t> offset = fields.size() == 2 ? entry_offset(fields[0].str) : std::nullopt;
      std::shared_ptr<Message> m;
      if (offset && fields[1].elements.size() >= 2 && fields[1].elements[0].str == "m") {
        m = decode_wire(topic, fields[1].elements[1].str);
      }
      if (!m) throw redis::ProtocolError("a malformed history entry in " + p + "history:" + topic);
      const uint64_t next = result.messages.empty() ? *offset
                                                    : result.messages.back()->position().offset + 1;
      if (*offset != next || *offset > head->offset) result.complete = false;  // a hole
      result.messages.push_back(Topic::stamped(std::move(m), {head->epoch, *offset}));
    }
    if (!result.messages.empty() && result.messages.back()->position().offset != head->offset) {
      result.complete = false;  // the stream does not reach the head: not every publisher keeps it
    }
    result.ok = true;
  } catch (...) {
    gen_log().warn("pubsub: cannot read the newest messages of {} from Redis: {}", topic,
                   tornado::detail::describe_exception(std::current_exception()));
    result = HistoryRead{};
  }
  co_return result;
}

RedisBackend::HistoryBounds RedisBackend::stream_bounds(const TopicOptions& o) const {
  if (o.history_size > 0) return HistoryBounds::of(o);
  HistoryBounds b;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(options_.join_window).count();
  if (ms <= 0 || options_.join_window_entries == 0) return b;
  b.size = options_.join_window_entries;
  b.ttl_ms = static_cast<int64_t>(ms);
  return b;
}

int64_t RedisBackend::redis_time_floor_ms() const {
  std::lock_guard lock(clock_mu_);
  if (clock_received_ == std::chrono::steady_clock::time_point{}) return 0;
  const int64_t elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - clock_received_)
                              .count();
  return clock_redis_ms_ + elapsed - 2 - elapsed / 1000;
}

void RedisBackend::clock_read(int64_t redis_ms, std::chrono::steady_clock::time_point received) {
  std::lock_guard lock(clock_mu_);
  clock_redis_ms_ = redis_ms;
  clock_received_ = received;
}

void RedisBackend::arm_clock() {
  std::weak_ptr<RedisBackend> weak = weak_from_this();
  clock_timer_ = IOLoop::current().call_later(kClockInterval, [weak] {
    auto self = weak.lock();
    if (!self || self->stopping_) return;
    self->clock_timer_ = {};
    if (self->connected_ && self->cmd_) {
      spawn_detached(self->sample_clock(self->cmd_), [](std::exception_ptr) {});
    }
    self->arm_clock();
  });
}

Task<> RedisBackend::sample_clock(std::shared_ptr<redis::Connection> c) {
  auto keep = shared_from_this();
  redis::Reply r = co_await c->command("TIME");
  const auto received = std::chrono::steady_clock::now();
  if (r.type != redis::Reply::Type::kArray || r.elements.size() != 2) {
    throw redis::ProtocolError("an unexpected reply to TIME: " + r.describe());
  }
  int64_t sec = 0, usec = 0;
  const std::string& a = r.elements[0].str;
  const std::string& b = r.elements[1].str;
  if (std::from_chars(a.data(), a.data() + a.size(), sec).ec != std::errc() ||
      std::from_chars(b.data(), b.data() + b.size(), usec).ec != std::errc()) {
    throw redis::ProtocolError("an unexpected reply to TIME: " + r.describe());
  }
  clock_read(sec * 1000 + usec / 1000, received);
}

// "<epoch> <offset> <t|b><key length>:<key><data>" on "<prefix><topic>".
void RedisBackend::on_message(std::string_view channel, std::string_view payload) {
  auto hub = hub_.lock();
  if (!hub || !channel.starts_with(options_.prefix)) return;
  const std::string topic(channel.substr(options_.prefix.size()));
  if (auto it = catching_up_.find(topic); it != catching_up_.end()) {
    it->second.held.emplace_back(payload);  // after the history read (catch_up)
    return;
  }
  const auto sp1 = payload.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : payload.find(' ', sp1 + 1);
  auto position = sp2 == std::string_view::npos
                      ? std::nullopt
                      : StreamPosition::parse(std::string(payload.substr(0, sp1)) + "-" +
                                              std::string(payload.substr(sp1 + 1, sp2 - sp1 - 1)));
  std::shared_ptr<Message> message =
      position ? decode_wire(topic, payload.substr(sp2 + 1)) : nullptr;
  if (!message) {
    gen_log().warn("pubsub: a malformed message on Redis channel {}: dropped", channel);
    return;
  }
  std::shared_ptr<Topic> t = hub->find(topic);
  if (!t) return;  // nobody here listens any more
  std::lock_guard lock(t->mu);
  t->publish_locked(std::move(message), *position);
}

void RedisBackend::read_history(const std::string& topic, std::optional<uint64_t> after,
                                HistoryBounds bounds, std::function<void(HistoryRead)> done) {
  auto job = [](std::shared_ptr<RedisBackend> self, std::string topic,
                std::optional<uint64_t> after, HistoryBounds bounds,
                std::function<void(HistoryRead)> done) -> Task<> {
    HistoryRead read = co_await self->read(std::move(topic), after, bounds);
    done(std::move(read));
  };
  auto self = shared_from_this();
  if (!home_.add_callback([self, topic, after, bounds, done, job] {
        spawn_detached(job(self, topic, after, bounds, done), [](std::exception_ptr) {});
      })) {
    done(HistoryRead{});  // the home loop is gone: Redis cannot be asked
  }
}

Task<HistoryRead> RedisBackend::read(std::string topic, std::optional<uint64_t> after,
                                     HistoryBounds bounds) {
  HistoryRead result;
  if (bounds.size == 0) co_return result;
  // A recovery reads only once this process receives the topic live (every message is then
  // either in what the read returns or arrives after it).
  if (auto it = subscribed_.find(topic); it != subscribed_.end()) {
    co_await Future<void>(it->second);
  }
  if (read_gate_for_test) co_await read_gate_for_test(topic);
  if (!connected_ || !cmd_) co_return result;
  auto keep = shared_from_this();
  auto c = cmd_;  // a lost connection resets cmd_: the command keeps its connection
  const std::string& p = options_.prefix;
  // After the largest offset: the largest id (no entry has it), to learn the head alone.
  const std::string start = !after                ? std::string()
                            : *after == UINT64_MAX ? "18446744073709551615-18446744073709551615"
                                                   : std::to_string(*after + 1) + "-0";
  try {
    // Recovery reads forward, page by page, up to the head the first page saw (what comes
    // after it is delivered live); the newest messages are one page, the oldest dropped.
    std::string page_start = start;
    for (;;) {
      const std::size_t want = bounds.size - result.messages.size();
      redis::Reply reply = co_await c->command(
          "EVAL", kReadScript, "3", p + "epoch:" + topic, p + "offset:" + topic,
          p + "history:" + topic, page_start, std::to_string(want), std::to_string(bounds.ttl_ms),
          std::to_string(kHistoryPageBytes));
      using Type = redis::Reply::Type;
      const auto& e = reply.elements;
      if (reply.type != Type::kArray || e.size() != 4 || e[2].type != Type::kArray) {
        throw redis::ProtocolError("an unexpected reply: " + reply.describe());
      }
      if (e[0].str.empty()) {  // never published
        if (!page_start.empty() && page_start != start) {
          throw redis::ProtocolError("the history of " + topic + " ended during its read");
        }
        result.ok = true;
        co_return result;
      }
      auto head = StreamPosition::parse(e[0].str + "-" + e[1].str);
      if (!head) throw redis::ProtocolError("a bad epoch or offset: " + reply.describe());
      if (page_start == start) {
        result.head = *head;
      } else if (head->epoch != result.head.epoch) {
        throw redis::ProtocolError("the history of " + topic + " began again during its read");
      }
      for (const auto& entry : e[2].elements) {
        const auto& fields = entry.elements;
        std::optional<uint64_t> offset =
            entry.elements.size() == 2 ? entry_offset(entry.elements[0].str) : std::nullopt;
        std::shared_ptr<Message> m;
        if (offset && fields[1].elements.size() >= 2 && fields[1].elements[0].str == "m") {
          m = decode_wire(topic, fields[1].elements[1].str);
        }
        if (!m) throw redis::ProtocolError("a malformed history entry in " + p + "history:" + topic);
        if (*offset > result.head.offset) break;  // published after the first page: live
        result.messages.push_back(Topic::stamped(std::move(m), {head->epoch, *offset}));
      }
      const bool more = e[3].type == Type::kInteger && e[3].integer == 1;
      if (!after || !more || result.messages.empty() ||
          result.messages.size() >= bounds.size ||
          result.messages.back()->position().offset >= result.head.offset) {
        break;
      }
      page_start = std::to_string(result.messages.back()->position().offset + 1) + "-0";
    }
    result.ok = true;
  } catch (...) {
    gen_log().warn("pubsub: cannot read the history of {} from Redis: {}", topic,
                   tornado::detail::describe_exception(std::current_exception()));
    result = HistoryRead{};
  }
  co_return result;
}

}  // namespace tornado::pubsub::detail
