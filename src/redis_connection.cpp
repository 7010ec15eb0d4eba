// redis: one connection — commands written to the stream as they come (pipelined), replies
// read by one loop and matched to them in order; on a subscribed connection, push messages
// go to the message callback.
#include "internal/describe_exception.h"
#include "internal/redis.h"
#include "tornado/gen.h"
#include "tornado/log.h"
#include "tornado/tcpclient.h"

namespace tornado::redis {

Connection::Connection(std::shared_ptr<IOStream> stream, Limits limits)
    : stream_(std::move(stream)), reader_(limits) {}

Connection::~Connection() {
  if (stream_ && !stream_->closed()) stream_->close();
}

Task<std::shared_ptr<Connection>> Connection::connect(std::string host, int port,
                                                      Duration timeout, Limits limits) {
  TCPClient client;
  std::shared_ptr<IOStream> stream =
      co_await with_timeout(timeout, client.connect(std::move(host), port));
  stream->set_nodelay(true);
  auto c = std::make_shared<Connection>(std::move(stream), limits);
  // The read loop holds the connection until the stream closes (close(), or lost).
  spawn_detached([](std::shared_ptr<Connection> self) -> Task<> { co_await self->read_loop(); }(c),
                 [](std::exception_ptr) {});
  co_return c;
}

bool Connection::closed() const noexcept { return stream_->closed(); }

void Connection::close() { stream_->close(); }

void Connection::close_when_answered(Duration limit) {
  close_when_answered_ = true;
  if (pending_.empty()) {
    close();
    return;
  }
  std::weak_ptr<Connection> weak = weak_from_this();
  IOLoop::current().call_later(limit, [weak] {
    if (auto self = weak.lock()) self->close();
  });
}

Task<Reply> Connection::command(std::vector<std::string> args) {
  if (stream_->closed() || close_when_answered_) throw StreamClosedError();
  const std::string& name = args.empty() ? std::string() : args[0];
  const bool subscribing = name == "SUBSCRIBE" || name == "subscribe" || name == "PSUBSCRIBE" ||
                           name == "psubscribe";
  Future<Reply> reply;
  (void)stream_->write(encode_command(args));
  pending_.push_back(reply);
  if (subscribing) subscribed_ = true;
  Reply r = co_await reply;
  if (r.type == Reply::Type::kError) throw RedisError(r.str);
  co_return r;
}

// A push message of a subscribed connection: ["message", channel, payload] or
// ["pmessage", pattern, channel, payload]. Everything else is a command's reply.
bool Connection::dispatch_push(Reply& r) {
  if (!subscribed_ || r.type != Reply::Type::kArray || r.elements.empty() ||
      r.elements[0].type != Reply::Type::kString) {
    return false;
  }
  const std::string& kind = r.elements[0].str;
  const bool message = kind == "message" && r.elements.size() == 3;
  const bool pmessage = kind == "pmessage" && r.elements.size() == 4;
  if (!message && !pmessage) return false;
  if (on_message_) {
    const Reply& channel = r.elements[message ? 1 : 2];
    const Reply& payload = r.elements[message ? 2 : 3];
    try {
      on_message_(channel.str, payload.str);
    } catch (...) {
      app_log().error("Exception in a Redis message callback: {}",
                      tornado::detail::describe_exception(std::current_exception()));
    }
  }
  return true;
}

Task<> Connection::read_loop() {
  std::exception_ptr error;
  try {
    for (;;) {
      while (auto reply = reader_.next()) {
        if (dispatch_push(*reply)) continue;
        if (pending_.empty()) throw ProtocolError("Redis sent a reply nobody asked for");
        Future<Reply> f = std::move(pending_.front());
        pending_.pop_front();
        f.set_result(std::move(*reply));
        if (close_when_answered_ && pending_.empty()) {
          close();  // the read below ends the loop
          break;
        }
      }
      co_await stream_->fill_buffer();
      const std::string_view bytes = stream_->read_buffer();
      reader_.feed(bytes);
      stream_->consume(bytes.size());
    }
  } catch (const ProtocolError& e) {
    gen_log().warn("Redis protocol error: {}", e.what());
    error = std::current_exception();
  } catch (...) {
    error = std::current_exception();
  }
  if (!stream_->closed()) stream_->close();
  fail_all(error ? error : std::make_exception_ptr(StreamClosedError()));
  if (on_close_) {
    auto cb = std::move(on_close_);
    try {
      cb();
    } catch (...) {
      app_log().error("Exception in a Redis close callback: {}",
                      tornado::detail::describe_exception(std::current_exception()));
    }
  }
}

void Connection::fail_all(std::exception_ptr error) noexcept {
  while (!pending_.empty()) {
    Future<Reply> f = std::move(pending_.front());
    pending_.pop_front();
    if (!f.done()) f.set_exception(error);
  }
}

}  // namespace tornado::redis
