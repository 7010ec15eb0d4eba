// permessage-deflate (RFC 7692): negotiation of the extension's parameters, and the inflater
// and deflater of one connection.
//
// Memory: zlib state is held only where the protocol needs it. With context takeover a
// connection keeps its own z_stream between messages (RFC 7692 §7.2.1: later messages may
// refer to earlier ones). With no_context_takeover it holds none: the inflater borrows a
// z_stream from a per-thread pool for the length of one message (a message may arrive over
// many loop turns, interleaved with other connections'), and the deflater, which compresses
// a whole message in one call, uses a per-thread z_stream reset after each message.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

typedef struct z_stream_s z_stream;

namespace tornado::websocket::detail {

// One extension of a Sec-WebSocket-Extensions header: its name and parameters (a
// parameter without a value has nullopt).
struct ExtensionOffer {
  std::string name;
  std::vector<std::pair<std::string, std::optional<std::string>>> params;
};

// Parses a Sec-WebSocket-Extensions value (RFC 6455 §9.1: comma-separated extensions, each
// with ;-separated parameters, values tokens or quoted strings). nullopt when malformed.
std::optional<std::vector<ExtensionOffer>> parse_extensions(std::string_view header);

// The parameters both sides agreed on.
struct DeflateParams {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 15;              // our deflate window
  std::optional<int> client_max_window_bits;    // echoed when the client gave a value
  bool client_max_window_bits_offered = false;  // the client accepts a hint (no value)
};

// The server's answer to one permessage-deflate offer: nullopt to decline it (unknown or
// repeated parameter, a value where none belongs, window bits outside 8-15, or a
// server_max_window_bits of 8, which zlib cannot produce for raw deflate).
// `force_server_no_context_takeover`: the server adds it even when not offered (§7.1.1.1).
std::optional<DeflateParams> accept_deflate_offer(const ExtensionOffer& offer,
                                                  bool force_server_no_context_takeover);
// The client's check of the server's answer to its offer; nullopt when invalid.
std::optional<DeflateParams> accept_deflate_response(const ExtensionOffer& response);
// "permessage-deflate; server_no_context_takeover; ..." for a response.
std::string deflate_response_header(const DeflateParams& params);

// Inflates the messages of one direction (raw deflate, any window up to 15 bits).
class Inflater {
 public:
  explicit Inflater(bool no_context_takeover) noexcept
      : no_context_takeover_(no_context_takeover) {}
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Inflates a piece of a message's payload, appending to `out`. False when `out` would pass
  // `limit` bytes (it is then at most limit + 1 long) or the data is corrupt (failed()).
  bool inflate(std::string_view in, std::string& out, std::size_t limit);
  // Ends a message (RFC 7692 §7.2.2: the 00 00 FF FF tail the sender removed).
  bool finish_message(std::string& out, std::size_t limit);
  bool failed() const noexcept { return failed_; }
  // zlib state held now (tests: none between messages under no_context_takeover).
  bool holds_state() const noexcept { return z_ != nullptr; }

 private:
  bool run(std::string_view in, std::string& out, std::size_t limit);
  z_stream* z_ = nullptr;
  bool no_context_takeover_;
  bool failed_ = false;
  bool stream_ended_ = false;  // the message's data ended with a BFINAL block
  bool message_fed_ = false;   // the current message had compressed bytes
};

// Deflates whole messages of one direction.
class Deflater {
 public:
  Deflater(int level, int mem_level, int window_bits, bool no_context_takeover) noexcept
      : level_(level),
        mem_level_(mem_level),
        window_bits_(window_bits),
        no_context_takeover_(no_context_takeover) {}
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // Appends the compressed message (sync flush, without its 00 00 FF FF tail) to `out`.
  void compress(std::string_view message, std::string& out);
  bool holds_state() const noexcept { return z_ != nullptr; }
  bool no_context_takeover() const noexcept { return no_context_takeover_; }
  int window_bits() const noexcept { return window_bits_; }

 private:
  z_stream* z_ = nullptr;  // context takeover only
  int level_;
  int mem_level_;
  int window_bits_;
  bool no_context_takeover_;
};

}  // namespace tornado::websocket::detail
