// pubsub: the Redis backend (see internal/pubsub_redis.h for the design).
#include "internal/pubsub_redis.h"

#include <charconv>

#include "internal/describe_exception.h"
#include "internal/pubsub_state.h"
#include "tornado/log.h"

namespace tornado::pubsub::detail {

namespace {

// Numbers the message, gives the topic an epoch the first time (or after Redis lost its
// data), and publishes "<epoch> <offset> <payload>" on the topic's channel, atomically: the
// order of the numbers is the order in which every subscriber receives them.
constexpr const char* kPublishScript = R"LUA(
local offset = redis.call('INCR', KEYS[1])
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', KEYS[2], epoch)
end
redis.call('PUBLISH', KEYS[3], epoch .. ' ' .. offset .. ' ' .. ARGV[1])
return offset
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
constexpr Duration kMaxBackoff = std::chrono::seconds(5);

std::string random_epoch() {
  char buf[20];
  auto r = std::to_chars(buf, buf + sizeof buf, new_epoch_value(), 16);
  return std::string(buf, r.ptr);
}

}  // namespace

RedisBackend::RedisBackend(std::weak_ptr<HubState> hub, RedisOptions options)
    : hub_(std::move(hub)), options_(std::move(options)) {}

std::string RedisBackend::encode(std::string_view data, bool binary, std::string_view key) {
  std::string out;
  out.reserve(data.size() + key.size() + 16);
  out.push_back(binary ? 'b' : 't');
  out.append(std::to_string(key.size())).push_back(':');
  out.append(key).append(data);
  return out;
}

Task<> RedisBackend::connect_both() {
  auto cmd = co_await redis::Connection::connect(options_.host, options_.port,
                                                 options_.connect_timeout);
  std::shared_ptr<redis::Connection> sub;
  try {
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
  for (const auto& topic : used_) co_await sub_->command("SUBSCRIBE", options_.prefix + topic);
  connected_ = true;
  while (!outbox_.empty() && connected_) {
    std::pair<std::string, std::string> item = std::move(outbox_.front());
    outbox_.pop_front();
    send(item.first, item.second);
  }
}

Task<> RedisBackend::start() {
  home_ = IOLoop::current().ref();
  co_await connect_both();
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
  for (auto* c : {&cmd_, &sub_}) {
    if (*c) {
      (*c)->set_close_callback(nullptr);
      (*c)->close();
      c->reset();
    }
  }
  if (!lost_connection_.done()) lost_connection_.set_result();
}

void RedisBackend::stop() {
  stopping_ = true;
  connected_ = false;  // a close, not a loss: nothing to warn about
  connection_lost();
}

void RedisBackend::publish(const std::string& topic, std::string payload) {
  auto self = shared_from_this();
  if (!home_.add_callback([self, topic, payload = std::move(payload)]() mutable {
        if (self->connected_) {
          self->send(topic, payload);
        } else if (self->outbox_.size() < self->options_.outbox_limit) {
          self->outbox_.emplace_back(topic, std::move(payload));
        } else {
          self->lost_.fetch_add(1, std::memory_order_relaxed);
        }
      })) {
    lost_.fetch_add(1, std::memory_order_relaxed);  // the home loop is gone
  }
}

void RedisBackend::send(const std::string& topic, const std::string& payload) {
  spawn_detached(send_one(cmd_, topic, payload), [](std::exception_ptr) {});
}

Task<> RedisBackend::send_one(std::shared_ptr<redis::Connection> c, std::string topic,
                              std::string payload) {
  const std::string& p = options_.prefix;
  try {
    co_await c->command("EVAL", kPublishScript, "3", p + "offset:" + topic, p + "epoch:" + topic,
                        p + topic, payload, random_epoch());
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
  home_.add_callback([self, topic] {
    if (!self->used_.insert(topic).second || !self->connected_) return;
    spawn_detached(channel_command(self->sub_, "SUBSCRIBE", self->options_.prefix + topic),
                   [](std::exception_ptr) {});
  });
}

void RedisBackend::topic_unused(const std::string& topic) {
  auto self = shared_from_this();
  home_.add_callback([self, topic] {
    if (self->used_.erase(topic) == 0 || !self->connected_) return;
    spawn_detached(channel_command(self->sub_, "UNSUBSCRIBE", self->options_.prefix + topic),
                   [](std::exception_ptr) {});
  });
}

// "<epoch> <offset> <t|b><key length>:<key><data>" on "<prefix><topic>".
void RedisBackend::on_message(std::string_view channel, std::string_view payload) {
  auto hub = hub_.lock();
  if (!hub || !channel.starts_with(options_.prefix)) return;
  const std::string topic(channel.substr(options_.prefix.size()));
  const auto sp1 = payload.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : payload.find(' ', sp1 + 1);
  auto position = sp2 == std::string_view::npos
                      ? std::nullopt
                      : StreamPosition::parse(std::string(payload.substr(0, sp1)) + "-" +
                                              std::string(payload.substr(sp1 + 1, sp2 - sp1 - 1)));
  std::string_view rest = sp2 == std::string_view::npos ? std::string_view() : payload.substr(sp2 + 1);
  const auto colon = rest.find(':');
  std::size_t key_size = 0;
  bool ok = position && rest.size() >= 3 && (rest[0] == 't' || rest[0] == 'b') &&
            colon != std::string_view::npos &&
            std::from_chars(rest.data() + 1, rest.data() + colon, key_size).ec == std::errc() &&
            key_size <= rest.size() - colon - 1;
  if (!ok) {
    gen_log().warn("pubsub: a malformed message on Redis channel {}: dropped", channel);
    return;
  }
  const bool binary = rest[0] == 'b';
  std::string key(rest.substr(colon + 1, key_size));
  std::string data(rest.substr(colon + 1 + key_size));
  std::shared_ptr<Topic> t = hub->find(topic);
  if (!t) return;  // nobody here listens any more
  auto message = std::make_shared<Message>(t->name, std::move(data), binary, std::move(key));
  std::lock_guard lock(t->mu);
  t->publish_locked(std::move(message), *position);
}

}  // namespace tornado::pubsub::detail
