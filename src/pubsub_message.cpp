// pubsub: a message's encodings (made once, shared by every subscriber) and the text form of
// a stream position.
#include <charconv>

#include "internal/pubsub_wire.h"
#include "internal/sse.h"
#include "internal/websocket_deflate.h"
#include "internal/websocket_frame.h"
#include "tornado/pubsub.h"

namespace tornado::pubsub {

namespace ws = websocket::detail;

// ---- StreamPosition ------------------------------------------------------------------------

std::string StreamPosition::to_string() const {
  char buf[48];
  auto r = std::to_chars(buf, buf + 20, epoch, 16);
  *r.ptr++ = '-';
  r = std::to_chars(r.ptr, buf + sizeof buf, offset);
  return std::string(buf, r.ptr);
}

std::optional<StreamPosition> StreamPosition::parse(std::string_view text) noexcept {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == text.size()) return std::nullopt;
  StreamPosition p;
  const char* end = text.data() + dash;
  auto r = std::from_chars(text.data(), end, p.epoch, 16);
  if (r.ec != std::errc() || r.ptr != end) return std::nullopt;
  end = text.data() + text.size();
  r = std::from_chars(text.data() + dash + 1, end, p.offset);
  if (r.ec != std::errc() || r.ptr != end) return std::nullopt;
  return p;
}

// ---- Message -------------------------------------------------------------------------------

Message::Message(std::string topic, std::string data, bool binary, std::string key)
    : topic_(std::move(topic)), key_(std::move(key)), binary_(binary) {
  char header[ws::kMaxFrameHeader];
  header_size_ = ws::encode_frame_header(header, binary ? ws::Opcode::kBinary : ws::Opcode::kText,
                                         data.size(), true, false, nullptr);
  frame_.reserve(header_size_ + data.size());
  frame_.append(header, header_size_);
  frame_.append(data);
}

std::string_view Message::data() const noexcept {
  return std::string_view(frame_).substr(header_size_);
}

namespace {

// A server frame (FIN, unmasked) of `data`, deflated alone when asked: a message compressed
// alone can be read by any peer that agreed to server_no_context_takeover with a 15-bit
// window, whatever else it sent before.
std::string make_frame(std::string_view data, bool binary, bool deflate) {
  std::string deflated;
  if (deflate) {
    static thread_local ws::Deflater deflater(6, 8, 15, /*no_context_takeover=*/true);
    deflater.compress(data, deflated);
    data = deflated;
  }
  char header[ws::kMaxFrameHeader];
  const std::size_t n = ws::encode_frame_header(
      header, binary ? ws::Opcode::kBinary : ws::Opcode::kText, data.size(), true,
      /*rsv1=*/deflate, nullptr);
  std::string frame;
  frame.reserve(n + data.size());
  frame.append(header, n);
  frame.append(data);
  return frame;
}

std::string positioned_payload(const Message& m) {
  std::string payload = m.position().to_string();
  payload.reserve(payload.size() + 1 + m.data().size());
  payload.push_back('\n');
  payload.append(m.data());
  return payload;
}

}  // namespace

std::string_view Message::websocket_deflated_frame() const {
  std::call_once(deflated_once_, [this] { deflated_ = make_frame(data(), binary_, true); });
  return deflated_;
}

std::string_view Message::websocket_positioned_frame() const {
  std::call_once(positioned_once_,
                 [this] { positioned_ = make_frame(positioned_payload(*this), binary_, false); });
  return positioned_;
}

std::string_view Message::websocket_positioned_deflated_frame() const {
  std::call_once(positioned_deflated_once_, [this] {
    positioned_deflated_ = make_frame(positioned_payload(*this), binary_, true);
  });
  return positioned_deflated_;
}

std::string_view Message::sse_event() const {
  std::call_once(sse_once_, [this] {
    const std::string_view d = data();
    sse_.reserve(d.size() + 32);
    sse_.append("id: ").append(position_.to_string()).push_back('\n');
    internal::append_sse_data(sse_, d);
    sse_.push_back('\n');
  });
  return sse_;
}

// ---- the form a message takes in Redis --------------------------------------------------------

namespace detail {

std::string encode_wire(std::string_view data, bool binary, std::string_view key) {
  std::string out;
  out.reserve(data.size() + key.size() + 16);
  out.push_back(binary ? 'b' : 't');
  out.append(std::to_string(key.size())).push_back(':');
  out.append(key).append(data);
  return out;
}

std::shared_ptr<Message> decode_wire(const std::string& topic, std::string_view encoded) {
  const auto colon = encoded.find(':');
  std::size_t key_size = 0;
  if (encoded.size() < 3 || (encoded[0] != 't' && encoded[0] != 'b') ||
      colon == std::string_view::npos) {
    return nullptr;
  }
  auto r = std::from_chars(encoded.data() + 1, encoded.data() + colon, key_size);
  if (r.ec != std::errc() || r.ptr != encoded.data() + colon ||
      key_size > encoded.size() - colon - 1) {
    return nullptr;
  }
  const bool binary = encoded[0] == 'b';
  std::string_view data = encoded.substr(colon + 1 + key_size);
  if (!binary) {
    ws::Utf8Validator v;  // as publish checks it: a text frame must be UTF-8
    if (!v.feed(data) || !v.complete()) return nullptr;
  }
  return std::make_shared<Message>(topic, std::string(data), binary,
                                   std::string(encoded.substr(colon + 1, key_size)));
}

}  // namespace detail

}  // namespace tornado::pubsub
