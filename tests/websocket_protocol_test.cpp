// The WebSocket protocol core without I/O: the frame parser (masking, lengths, fragments,
// control frames, errors and their close codes), the encoder, UTF-8 validation, close codes,
// permessage-deflate negotiation and the bounded inflater, and the handshake checks.
#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>
#include <vector>

#include "internal/websocket_deflate.h"
#include "internal/websocket_frame.h"
#include "internal/websocket_handshake.h"
#include "web/web_internal.h"
#include "websocket_frame_builder.h"

namespace websocket_protocol_test {

using namespace tornado;
using namespace tornado::websocket::detail;

namespace {

using tornado::test::ws_frame;

struct Parsed {
  std::vector<std::string>
      events;  // "text:..", "binary:..", "ping:..", "close:1000:..", "error:1002"
};

// Feeds `wire` to a parser in pieces of `piece` bytes (0: all at once), as a stream would.
Parsed run(const std::string& wire, std::size_t piece = 0, std::size_t max = 1 << 20,
           Inflater* inflater = nullptr, bool server_side = true) {
  FrameParser parser(server_side, max);
  parser.set_inflater(inflater);
  std::string buffer;
  std::size_t fed = 0;
  Parsed out;
  for (;;) {
    FrameEvent ev = parser.parse({buffer.data(), buffer.size()});
    switch (ev.kind) {
      case FrameEvent::kNeedMore:
        buffer.erase(0, ev.consumed);
        if (fed == wire.size()) return out;
        {
          std::size_t n = piece == 0 ? wire.size() - fed : std::min(piece, wire.size() - fed);
          buffer.append(wire, fed, n);
          fed += n;
        }
        continue;
      case FrameEvent::kMessage: {
        bool binary = parser.message_is_binary();
        out.events.push_back((binary ? "binary:" : "text:") + parser.take_message());
        break;
      }
      case FrameEvent::kPing:
        out.events.push_back("ping:" + std::string(ev.payload));
        break;
      case FrameEvent::kPong:
        out.events.push_back("pong:" + std::string(ev.payload));
        break;
      case FrameEvent::kClose:
        out.events.push_back("close:" + std::to_string(ev.code) + ":" + std::string(ev.payload));
        break;
      case FrameEvent::kError:
        out.events.push_back("error:" + std::to_string(ev.code));
        return out;
    }
    buffer.erase(0, ev.consumed);
  }
}

std::vector<std::string> events(const std::string& wire, std::size_t piece = 0) {
  return run(wire, piece).events;
}

using V = std::vector<std::string>;

}  // namespace

// ---- framing ------------------------------------------------------------------------------

TEST(WebSocketFrameParser, ParsesMaskedTextAndBinary) {
  EXPECT_EQ(events(ws_frame(0x81, "Hello") + ws_frame(0x82, std::string("\0\xff", 2))),
            (V{"text:Hello", std::string("binary:\0\xff", 9)}));
}

TEST(WebSocketFrameParser, TheSameMessagesHoweverTheBytesAreSplit) {
  std::string wire = ws_frame(0x01, "frag") + ws_frame(0x89, "p") + ws_frame(0x80, "ment") +
                     ws_frame(0x82, std::string(70000, 'x')) +
                     ws_frame(0x81, std::string(300, 'y')) +
                     ws_frame(0x88,
                              "\x03\xe8"
                              "bye");
  const V expected = {"ping:p", "text:fragment", "binary:" + std::string(70000, 'x'),
                      "text:" + std::string(300, 'y'), "close:1000:bye"};
  for (std::size_t piece : {0, 1, 2, 3, 7, 13, 100, 4096}) {
    EXPECT_EQ(events(wire, piece), expected) << "piece " << piece;
  }
}

TEST(WebSocketFrameParser, SixteenAndSixtyFourBitLengths) {
  EXPECT_EQ(events(ws_frame(0x82, std::string(126, 'a'))), (V{"binary:" + std::string(126, 'a')}));
  EXPECT_EQ(events(ws_frame(0x82, std::string(65535, 'b'))),
            (V{"binary:" + std::string(65535, 'b')}));
  EXPECT_EQ(events(ws_frame(0x82, std::string(65536, 'c'))),
            (V{"binary:" + std::string(65536, 'c')}));
}

TEST(WebSocketFrameParser, NonMinimalLengthsAreProtocolErrors) {
  EXPECT_EQ(events(ws_frame(0x82, "abc", true, 16)), (V{"error:1002"}));
  EXPECT_EQ(events(ws_frame(0x82, std::string(200, 'a'), true, 64)), (V{"error:1002"}));
}

TEST(WebSocketFrameParser, SixtyFourBitLengthWithTopBitIsAnError) {
  std::string wire = "\x82\xff\x80";
  wire += std::string(7, '\0') + "abcd";
  EXPECT_EQ(events(wire), (V{"error:1002"}));
}

TEST(WebSocketFrameParser, UnmaskedClientFrameAndMaskedServerFrameAreRefused) {
  EXPECT_EQ(events(ws_frame(0x81, "x", false)), (V{"error:1002"}));
  EXPECT_EQ(run(ws_frame(0x81, "x", true), 0, 1 << 20, nullptr, /*server_side=*/false).events,
            (V{"error:1002"}));
  EXPECT_EQ(run(ws_frame(0x81, "ok", false), 0, 1 << 20, nullptr, false).events, (V{"text:ok"}));
}

TEST(WebSocketFrameParser, ReservedBitsAndOpcodesAreProtocolErrors) {
  for (uint8_t b : {0xC1, 0xA1, 0x91, 0xF1}) EXPECT_EQ(events(ws_frame(b, "x")), (V{"error:1002"}));
  for (uint8_t op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    EXPECT_EQ(events(ws_frame(0x80 | op, "")), (V{"error:1002"})) << int(op);
  }
}

TEST(WebSocketFrameParser, ReservedBitFailsBeforeThePayloadArrives) {
  // Only the first two bytes: the error needs nothing more.
  EXPECT_EQ(events(ws_frame(0xC1, "xyz").substr(0, 2)), (V{"error:1002"}));
}

TEST(WebSocketFrameParser, ControlFrameRules) {
  EXPECT_EQ(events(ws_frame(0x89, std::string(125, 'p'))), (V{"ping:" + std::string(125, 'p')}));
  EXPECT_EQ(events(ws_frame(0x89, std::string(126, 'p'))), (V{"error:1002"}));
  EXPECT_EQ(events(ws_frame(0x09, "p")), (V{"error:1002"}));  // fragmented ping
  EXPECT_EQ(events(ws_frame(0x8A, "unsolicited")), (V{"pong:unsolicited"}));
}

TEST(WebSocketFrameParser, FragmentationRules) {
  EXPECT_EQ(events(ws_frame(0x80, "x")), (V{"error:1002"}));  // continuation of nothing
  EXPECT_EQ(events(ws_frame(0x00, "x")), (V{"error:1002"}));
  EXPECT_EQ(events(ws_frame(0x01, "a") + ws_frame(0x81, "b")),
            (V{"error:1002"}));  // new message inside
  EXPECT_EQ(
      events(ws_frame(0x01, "a") + ws_frame(0x00, "b") + ws_frame(0x8A, "") + ws_frame(0x80, "c")),
      (V{"pong:", "text:abc"}));
  EXPECT_EQ(events(ws_frame(0x01, "") + ws_frame(0x00, "") + ws_frame(0x80, "")), (V{"text:"}));
}

TEST(WebSocketFrameParser, MessageSizeLimitCountsEveryFragment) {
  EXPECT_EQ(run(ws_frame(0x82, std::string(100, 'a')), 0, 100).events,
            (V{"binary:" + std::string(100, 'a')}));
  EXPECT_EQ(run(ws_frame(0x82, std::string(101, 'a')), 0, 100).events, (V{"error:1009"}));
  EXPECT_EQ(run(ws_frame(0x02, std::string(60, 'a')) + ws_frame(0x80, std::string(60, 'a')), 0, 100)
                .events,
            (V{"error:1009"}));
}

TEST(WebSocketFrameParser, CloseFrames) {
  EXPECT_EQ(events(ws_frame(0x88, "")), (V{"close:1005:"}));
  EXPECT_EQ(events(ws_frame(0x88, "\x03")), (V{"error:1002"}));
  EXPECT_EQ(events(ws_frame(0x88, "\x03\xe8\xff")), (V{"error:1007"}));
  EXPECT_EQ(events(ws_frame(0x88, "\x0f\xa0ok")), (V{"close:4000:ok"}));
}

// Autobahn 7.9.x and 7.13.x: every code a close frame may not carry gives 1002.
TEST(WebSocketFrameParser, EveryInvalidCloseCodeIsAProtocolError) {
  int valid = 0;
  for (uint32_t code = 0; code <= 65535; ++code) {
    std::string payload{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
    auto ev = events(ws_frame(0x88, payload));
    ASSERT_EQ(ev.size(), 1u);
    if (is_valid_close_code(code)) {
      EXPECT_EQ(ev[0], "close:" + std::to_string(code) + ":");
      ++valid;
    } else {
      EXPECT_EQ(ev[0], "error:1002") << code;
    }
  }
  EXPECT_EQ(valid, 4 + 8 + 2000);
  for (uint32_t code :
       {0u, 999u, 1004u, 1005u, 1006u, 1015u, 1016u, 1100u, 2000u, 2999u, 5000u, 65535u}) {
    EXPECT_FALSE(is_valid_close_code(code)) << code;
  }
  for (uint32_t code : {1000u, 1001u, 1002u, 1003u, 1007u, 1008u, 1009u, 1010u, 1011u, 3000u, 3999u,
                        4000u, 4999u}) {
    EXPECT_TRUE(is_valid_close_code(code)) << code;
  }
}

// ---- UTF-8 --------------------------------------------------------------------------------

TEST(WebSocketUtf8, ValidatesAcrossPieces) {
  const std::string text = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5 \xf0\x9f\x98\x80";
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    Utf8Validator v;
    EXPECT_TRUE(v.feed(std::string_view(text).substr(0, cut)));
    EXPECT_TRUE(v.feed(std::string_view(text).substr(cut)));
    EXPECT_TRUE(v.complete());
  }
}

TEST(WebSocketUtf8, RefusesWhatPythonRefuses) {
  for (std::string bad : {"\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80",
                          "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xce\xba\xe1\xbd"}) {
    Utf8Validator v;
    EXPECT_FALSE(v.feed(bad) && v.complete()) << bad;
  }
  // Against the web layer's checker on random short strings, split at random.
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 6, '\0');
    for (auto& c : s) c = static_cast<char>(0x7e + rng() % 0x82);
    Utf8Validator v;
    const std::size_t cut = s.empty() ? 0 : rng() % (s.size() + 1);
    const bool ours = v.feed(s.substr(0, cut)) && v.feed(s.substr(cut)) && v.complete();
    const bool ref = web::detail::is_valid_utf8(s);  // the web layer's whole-string check
    EXPECT_EQ(ours, ref) << ::testing::PrintToString(s);
  }
}

// Autobahn 6.4.x: the connection fails at the bad byte, before the rest of the frame arrives.
TEST(WebSocketFrameParser, InvalidUtf8FailsFastInsideAFrame) {
  std::string payload =
      "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80" + std::string(1000, 'a');
  std::string wire = ws_frame(0x81, payload);
  // Only the header and the first 15 payload bytes have arrived.
  EXPECT_EQ(events(wire.substr(0, 8 + 15)), (V{"error:1007"}));
  // Across fragments: the first fragment is valid, the second starts badly.
  EXPECT_EQ(events(ws_frame(0x01, "\xce") + ws_frame(0x00, "\x41")), (V{"error:1007"}));
  EXPECT_EQ(events(ws_frame(0x01, "\xce") + ws_frame(0x80, "")), (V{"error:1007"}));
}

TEST(WebSocketFrameParser, TextSplitInsideACodePointAcrossFragments) {
  EXPECT_EQ(events(ws_frame(0x01, "\xf0\x9f") + ws_frame(0x80, "\x98\x80")),
            (V{"text:\xf0\x9f\x98\x80"}));
}

// ---- encoder ------------------------------------------------------------------------------

TEST(WebSocketFrameEncoder, ServerFramesAreUnmaskedWithMinimalLengths) {
  EXPECT_EQ(encode_frame(Opcode::kText, "Hi"), std::string("\x81\x02Hi"));
  EXPECT_EQ(encode_frame(Opcode::kBinary, std::string(126, 'a')).substr(0, 4),
            std::string("\x82\x7e\x00\x7e", 4));
  EXPECT_EQ(encode_frame(Opcode::kBinary, std::string(65536, 'a')).substr(0, 10),
            std::string("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10));
}

TEST(WebSocketFrameEncoder, ClientFramesAreMaskedAndParseBack) {
  const std::string a = encode_frame(Opcode::kText, "same text", false, true);
  const std::string b = encode_frame(Opcode::kText, "same text", false, true);
  EXPECT_NE(a, b);  // a fresh random key each time
  EXPECT_EQ(static_cast<uint8_t>(a[1]) & 0x80, 0x80);
  EXPECT_EQ(events(a + b), (V{"text:same text", "text:same text"}));
}

TEST(WebSocketFrameEncoder, MaskingAWordAtATimeMatchesBytewise) {
  const uint8_t key[4] = {1, 2, 3, 4};
  for (std::size_t phase = 0; phase < 4; ++phase) {
    for (std::size_t n = 0; n < 40; ++n) {
      std::string data(n, 'z');
      std::string expected = data;
      for (std::size_t i = 0; i < n; ++i)
        expected[i] = static_cast<char>(expected[i] ^ key[(phase + i) % 4]);
      apply_mask(data.data(), n, key, phase);
      EXPECT_EQ(data, expected);
    }
  }
}

TEST(WebSocketFrameEncoder, ClosePayloadCutsTheReasonAtACodePoint) {
  std::string reason(122, 'a');
  reason += "\xc3\xa9\xc3\xa9";  // 126 bytes; the cut at 123 would split the first é
  const std::string p = close_payload(1000, reason);
  EXPECT_EQ(p.size(), 2u + 122u);
  EXPECT_EQ(p.substr(0, 2), std::string("\x03\xe8"));
}

// ---- permessage-deflate -------------------------------------------------------------------

namespace {

DeflateParams offer(std::string_view header, bool force = false) {
  auto offers = parse_extensions(header);
  EXPECT_TRUE(offers.has_value()) << header;
  for (const auto& o : *offers) {
    if (auto p = accept_deflate_offer(o, force)) return *p;
  }
  ADD_FAILURE() << "declined: " << header;
  return {};
}

bool declined(std::string_view header) {
  auto offers = parse_extensions(header);
  if (!offers) return true;
  for (const auto& o : *offers) {
    if (accept_deflate_offer(o, false)) return false;
  }
  return true;
}

}  // namespace

TEST(WebSocketDeflate, NegotiatesTheParameters) {
  EXPECT_EQ(deflate_response_header(offer("permessage-deflate")), "permessage-deflate");
  EXPECT_EQ(deflate_response_header(offer("permessage-deflate; client_max_window_bits")),
            "permessage-deflate");
  EXPECT_EQ(deflate_response_header(offer(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover")),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  EXPECT_EQ(deflate_response_header(offer("permessage-deflate; server_max_window_bits=10")),
            "permessage-deflate; server_max_window_bits=10");
  EXPECT_EQ(deflate_response_header(offer("permessage-deflate; client_max_window_bits=\"12\"")),
            "permessage-deflate; client_max_window_bits=12");
  EXPECT_EQ(deflate_response_header(offer("permessage-deflate", /*force=*/true)),
            "permessage-deflate; server_no_context_takeover");
}

TEST(WebSocketDeflate, BadOffersAreDeclinedAndTheNextOneTaken) {
  EXPECT_TRUE(declined("permessage-deflate; foo"));
  EXPECT_TRUE(declined("permessage-deflate; server_max_window_bits"));
  EXPECT_TRUE(declined("permessage-deflate; server_max_window_bits=16"));
  EXPECT_TRUE(declined("permessage-deflate; server_max_window_bits=7"));
  EXPECT_TRUE(declined("permessage-deflate; server_max_window_bits=08"));
  EXPECT_TRUE(declined("permessage-deflate; server_max_window_bits=8"));  // zlib cannot
  EXPECT_TRUE(declined("permessage-deflate; client_max_window_bits=abc"));
  EXPECT_TRUE(declined("permessage-deflate; server_no_context_takeover=1"));
  EXPECT_TRUE(
      declined("permessage-deflate; server_no_context_takeover; server_no_context_takeover"));
  EXPECT_TRUE(declined("x-webkit-deflate-frame"));
  EXPECT_TRUE(declined("permessage-deflate; ="));  // malformed header
  EXPECT_EQ(deflate_response_header(
                offer("permessage-deflate; foo, permessage-deflate; server_max_window_bits=9")),
            "permessage-deflate; server_max_window_bits=9");
}

TEST(WebSocketDeflate, RoundTripWithAndWithoutContextTakeover) {
  for (bool no_takeover : {false, true}) {
    Deflater d(6, 8, 15, no_takeover);
    Inflater inf(no_takeover);
    for (int i = 0; i < 5; ++i) {
      const std::string msg =
          "Hello, permessage-deflate " + std::to_string(i) + std::string(500, 'x');
      std::string payload;
      d.compress(msg, payload);
      EXPECT_LT(payload.size(), msg.size());
      // As one compressed frame with RSV1, in pieces of 3 bytes.
      std::string wire = ws_frame(0xC1, payload);
      auto ev = run(wire, 3, 1 << 20, &inf).events;
      EXPECT_EQ(ev, (V{"text:" + msg}));
      EXPECT_EQ(inf.holds_state(), !no_takeover);
    }
    EXPECT_EQ(d.holds_state(), !no_takeover);
  }
}

// Found by python3-websockets: with context takeover, an empty message right after another
// made deflate() answer Z_BUF_ERROR (nothing to flush), which was taken for a failure.
TEST(WebSocketDeflate, EmptyMessagesRoundTripWithContextTakeover) {
  for (bool no_takeover : {false, true}) {
    Deflater d(6, 8, 15, no_takeover);
    Inflater inf(no_takeover);
    for (std::string msg : {"first", "", "", "after"}) {
      std::string payload;
      d.compress(msg, payload);
      EXPECT_EQ(run(ws_frame(0xC1, payload), 0, 1 << 20, &inf).events, (V{"text:" + msg}));
    }
  }
}

TEST(WebSocketDeflate, CompressedMessageAcrossFragmentsWithInterleavedPing) {
  Deflater d(6, 8, 15, true);
  Inflater inf(true);
  std::string payload;
  d.compress("fragmented and compressed", payload);
  const std::size_t half = payload.size() / 2;
  std::string wire = ws_frame(0x41, payload.substr(0, half)) + ws_frame(0x89, "") +
                     ws_frame(0x80, payload.substr(half));
  EXPECT_EQ(run(wire, 0, 1 << 20, &inf).events, (V{"ping:", "text:fragmented and compressed"}));
}

TEST(WebSocketDeflate, RsvOneWithoutNegotiationOrOnAContinuationIsAnError) {
  EXPECT_EQ(events(ws_frame(0xC1, "x")), (V{"error:1002"}));
  Inflater inf(true);
  EXPECT_EQ(run(ws_frame(0x01, "a") + ws_frame(0xC0, "b"), 0, 1 << 20, &inf).events,
            (V{"error:1002"}));
  EXPECT_EQ(run(ws_frame(0xC9, ""), 0, 1 << 20, &inf).events, (V{"error:1002"}));  // control
}

TEST(WebSocketDeflate, CompressionBombStopsAtTheLimit) {
  // 64 MiB of zeros deflate to about 64 KiB.
  const std::string zeros(64 << 20, '\0');
  Deflater d(9, 9, 15, true);
  std::string payload;
  d.compress(zeros, payload);
  ASSERT_LT(payload.size(), 200u << 10);
  Inflater inf(true);
  std::string out;
  EXPECT_FALSE(inf.inflate(payload, out, 1 << 20));
  EXPECT_FALSE(inf.failed());
  EXPECT_LE(out.size(), (1u << 20) + 1);  // never more than the limit and one byte
  Inflater fresh(true);
  EXPECT_EQ(run(ws_frame(0xC2, payload), 0, 1 << 20, &fresh).events, (V{"error:1009"}));
}

TEST(WebSocketDeflate, CorruptDataIsInvalidPayload) {
  Inflater inf(false);
  EXPECT_EQ(run(ws_frame(0xC2, "\xff\xff\xff\xff"), 0, 1 << 20, &inf).events, (V{"error:1007"}));
}

TEST(WebSocketDeflate, FinalBlockFromThePeerIsAccepted) {
  // A peer may end a message with a BFINAL block (RFC 7692 §7.2.3.3).
  z_stream z{};
  ASSERT_EQ(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string msg = "final block", out(100, '\0');
  z.next_in = reinterpret_cast<Bytef*>(msg.data());
  z.avail_in = static_cast<uInt>(msg.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  ASSERT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  Inflater inf(false);
  EXPECT_EQ(run(ws_frame(0xC1, out) + ws_frame(0xC1, out), 0, 1 << 20, &inf).events,
            (V{"text:final block", "text:final block"}));
}

// ---- handshake ----------------------------------------------------------------------------

TEST(WebSocketHandshake, AcceptValueOfRfc6455) {
  EXPECT_EQ(compute_accept_value("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketHandshake, KeyMustBeSixteenBase64Bytes) {
  EXPECT_TRUE(is_valid_key("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_FALSE(is_valid_key(""));
  EXPECT_FALSE(is_valid_key("dGhlIHNhbXBsZQ=="));
  EXPECT_FALSE(is_valid_key("dGhlIHNhbXBsZSBub25j!Q=="));
}

TEST(WebSocketHandshake, ChecksInTornadosOrder) {
  httputil::HTTPHeaders h;
  EXPECT_EQ(check_upgrade_headers(h).status, 400);
  h.add("Upgrade", "WebSocket");
  EXPECT_EQ(check_upgrade_headers(h).status, 400);
  h.add("Connection", "keep-alive, Upgrade");
  EXPECT_EQ(check_upgrade_headers(h).status, 0);
  EXPECT_EQ(check_upgrade_version(h).status, 426);
  h.add("Sec-WebSocket-Version", "8");
  EXPECT_EQ(check_upgrade_version(h).status, 426);
  h.set("Sec-WebSocket-Version", "13");
  EXPECT_EQ(check_upgrade_version(h).status, 400);  // no Host, no key
  h.add("Host", "example.com");
  h.add("Sec-WebSocket-Key", "short");
  EXPECT_EQ(check_upgrade_version(h).status, 400);
  h.set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(check_upgrade_version(h).status, 0);
}

TEST(WebSocketHandshake, SameOriginAsTornado) {
  EXPECT_TRUE(same_origin("http://Example.com:8080", "example.com:8080"));
  EXPECT_TRUE(same_origin("https://example.com/path", "example.com"));
  EXPECT_FALSE(same_origin("http://evil.com", "example.com"));
  EXPECT_FALSE(same_origin("null", "example.com"));
  EXPECT_FALSE(same_origin("http://example.com", "example.com:8080"));
}

TEST(WebSocketHandshake, ListsAndTokens) {
  EXPECT_EQ(split_list(" chat , superchat,,"), (std::vector<std::string>{"chat", "superchat"}));
  EXPECT_TRUE(has_token("keep-alive, UPGRADE", "upgrade"));
  EXPECT_FALSE(has_token("upgraded", "upgrade"));
}

}  // namespace websocket_protocol_test
