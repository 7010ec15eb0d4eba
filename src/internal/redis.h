// A Redis client for the hub's Redis backend: hiredis's RESP reply parser fed from our own
// IOStream (no blocking client, no hiredis I/O), commands pipelined on one connection with
// their replies matched in order, and the pub/sub push messages of a subscribed connection.
//
//   auto c = co_await redis::Connection::connect("127.0.0.1", 6379, 5s);
//   redis::Reply r = co_await c->command({"INCR", "counter"});
//
// Bounds: a reply (or the bytes buffered toward one) larger than Limits::max_reply_bytes, an
// array of more than max_array_elements, or nesting deeper than hiredis's 7 levels is a
// protocol error: the connection is closed and every pending command fails with
// redis::ProtocolError. Thread rule: the connection's loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tornado/iostream.h"
#include "tornado/task.h"

struct redisReader;

namespace tornado::redis {

// An error reply ("-ERR ..."): the command failed, the connection is fine.
class RedisError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// The server sent something that is not RESP, or past a bound: the connection is closed.
class ProtocolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Reply {
  enum class Type : uint8_t { kString, kArray, kInteger, kNil, kStatus, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<Reply> elements;

  bool is_nil() const noexcept { return type == Type::kNil; }
  // A readable form for logs and tests: "OK", "(integer) 3", "(nil)", ["a", "b"], "(error) ...".
  std::string describe() const;
};

struct Limits {
  std::size_t max_reply_bytes = 64 * 1024 * 1024;
  std::size_t max_array_elements = 1024 * 1024;
};

// RESP bytes in, whole replies out (hiredis's parser with our reply objects and bounds).
class ReplyReader {
 public:
  explicit ReplyReader(Limits limits = {});
  ~ReplyReader();
  ReplyReader(const ReplyReader&) = delete;
  ReplyReader& operator=(const ReplyReader&) = delete;

  void feed(std::string_view bytes);
  // The next whole reply, or nullopt until more bytes arrive. Raises ProtocolError on bad
  // RESP, and when the reply still incomplete holds more than max_reply_bytes.
  std::optional<Reply> next();

 private:
  redisReader* reader_;
  Limits limits_;
};

// One command as RESP (an array of bulk strings).
std::string encode_command(const std::vector<std::string>& args);

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Connects to host:port (a numeric address or a name), within `timeout`. Raises
  // StreamClosedError (the cause as its real_error) or TimeoutError.
  static Task<std::shared_ptr<Connection>> connect(std::string host, int port, Duration timeout,
                                                   Limits limits = {});
  ~Connection();

  // Sends a command (pipelined behind those not yet answered) and waits for its reply. An
  // error reply raises RedisError; a lost connection StreamClosedError; a bad reply
  // ProtocolError.
  Task<Reply> command(std::vector<std::string> args);
  // The same with the words as arguments: `co_await c->command("GET", key)`. (A braced list
  // inside co_await is the form g++ 12 miscompiles: docs/task.md.)
  template <typename... Words>
    requires(sizeof...(Words) >= 1 && (std::is_convertible_v<const Words&, std::string_view> && ...))
  Task<Reply> command(const Words&... words) {
    std::vector<std::string> args;
    args.reserve(sizeof...(Words));
    (args.emplace_back(std::string_view(words)), ...);
    return command(std::move(args));
  }

  // Pub/sub push messages ("message" and "pmessage") of a connection that SUBSCRIBEd: the
  // channel and the payload. Set before subscribing.
  void set_message_callback(std::function<void(std::string_view, std::string_view)> cb) {
    on_message_ = std::move(cb);
  }
  // Called once when the connection is lost or closed (not by the destructor).
  void set_close_callback(std::function<void()> cb) { on_close_ = std::move(cb); }

  void close();
  // Sends nothing more (command() raises StreamClosedError) and closes once every command
  // already sent is answered, or after `limit`: what was sent on a connection that is given
  // up for another is not lost with it.
  void close_when_answered(Duration limit);
  bool closed() const noexcept;

  explicit Connection(std::shared_ptr<IOStream> stream, Limits limits);

 private:
  Task<> read_loop();
  void fail_all(std::exception_ptr error) noexcept;
  bool dispatch_push(Reply& reply);

  std::shared_ptr<IOStream> stream_;
  ReplyReader reader_;
  std::deque<Future<Reply>> pending_;
  std::function<void(std::string_view, std::string_view)> on_message_;
  std::function<void()> on_close_;
  bool subscribed_ = false;
  bool close_when_answered_ = false;
};

}  // namespace tornado::redis
