// The black-box conformance driver: raw frames to our server, one test per case of the
// Autobahn|Testsuite families 1 (framing), 2 (ping/pong), 3 (reserved bits), 4 (opcodes),
// 5 (fragmentation), 6 (UTF-8, incl. fail-fast), 7 (close, incl. every invalid code),
// 9 (large messages, scaled down) and 12/13 (permessage-deflate), each checking the exact
// echo and close code. docs/websocket_conformance.md maps the families to these tests.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "internal/websocket_deflate.h"
#include "internal/websocket_frame.h"
#include "tornado/testing.h"
#include "tornado/websocket.h"
#include "websocket_test_util.h"

namespace websocket_conformance_test {

using namespace tornado;
using tornado::test::RawWebSocket;
using tornado::test::ws_close_payload;
using tornado::test::ws_frame;
using V = std::vector<std::string>;

namespace {

struct EchoHandler : websocket::WebSocketHandler {
  Task<> on_message(std::string message, bool binary) override {
    co_await write_message(message, binary);
  }
};

struct DeflateEchoHandler : EchoHandler {
  std::optional<websocket::CompressionOptions> get_compression_options() override {
    return websocket::CompressionOptions();
  }
};

struct SmallLimitEchoHandler : EchoHandler {
  std::size_t max_message_size() const override { return 1000; }
};

std::string close_frame(int code, std::string_view reason = {}) {
  return ws_frame(0x88, ws_close_payload(code, reason));
}
const std::string kClose = close_frame(1000);

class WebSocketConformanceTest : public tornado::testing::AsyncHTTPTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(std::vector<web::URLSpec>{
        {"/echo", web::handler<EchoHandler>()},
        {"/deflate", web::handler<DeflateEchoHandler>()},
        {"/small", web::handler<SmallLimitEchoHandler>()},
    });
  }

  // Connects to `path`, sends `wire` in pieces of `piece` bytes (0: at once) and returns
  // everything the server sends until it closes the connection.
  V talk(const std::string& wire, std::size_t piece = 0, const std::string& path = "/echo",
         const std::string& extra = {}) {
    return run_sync([&]() -> Task<V> {
      auto ws = co_await RawWebSocket::connect(get_http_port(), path, extra);
      EXPECT_TRUE(ws->upgraded()) << ws->head();
      head_ = ws->head();
      if (piece == 0) {
        co_await ws->send(wire);
      } else {
        for (std::size_t i = 0; i < wire.size(); i += piece) {
          co_await ws->send(wire.substr(i, piece));
        }
      }
      co_return co_await ws->read_all();
    });
  }

  std::string head_;
};

// ---- 1: framing ---------------------------------------------------------------------------

TEST_F(WebSocketConformanceTest, Case1_1_TextMessagesOfEveryLengthForm) {
  for (std::size_t n : {0, 125, 126, 127, 128, 65535, 65536}) {
    const std::string payload(n, '*');
    EXPECT_EQ(talk(ws_frame(0x81, payload) + kClose), (V{"text:" + payload, "close:1000:", "EOF"}))
        << n;
  }
  // 1.1.8: 65536 bytes written in pieces of 997.
  const std::string payload(65536, '*');
  EXPECT_EQ(talk(ws_frame(0x81, payload) + kClose, 997),
            (V{"text:" + payload, "close:1000:", "EOF"}));
}

TEST_F(WebSocketConformanceTest, Case1_2_BinaryMessagesOfEveryLengthForm) {
  for (std::size_t n : {0, 125, 126, 127, 128, 65535, 65536}) {
    const std::string payload(n, '\xfe');
    EXPECT_EQ(talk(ws_frame(0x82, payload) + kClose),
              (V{"binary:" + payload, "close:1000:", "EOF"}))
        << n;
  }
}

// ---- 2: pings and pongs -------------------------------------------------------------------

TEST_F(WebSocketConformanceTest, Case2_PingsAreAnsweredWithTheirPayload) {
  EXPECT_EQ(talk(ws_frame(0x89, "") + kClose), (V{"pong:", "close:1000:", "EOF"}));  // 2.1
  EXPECT_EQ(talk(ws_frame(0x89, "Hello, world!") + kClose),                          // 2.2
            (V{"pong:Hello, world!", "close:1000:", "EOF"}));
  const std::string bin("\x00\xff\xfe\xfd\xfc\xfb\x00\xff", 8);
  EXPECT_EQ(talk(ws_frame(0x89, bin) + kClose), (V{"pong:" + bin, "close:1000:", "EOF"}));  // 2.3
  const std::string p125(125, 'p');
  EXPECT_EQ(talk(ws_frame(0x89, p125) + kClose), (V{"pong:" + p125, "close:1000:", "EOF"}));  // 2.4
  EXPECT_EQ(talk(ws_frame(0x89, p125) + kClose, 1),
            (V{"pong:" + p125, "close:1000:", "EOF"}));  // 2.6
}

TEST_F(WebSocketConformanceTest, Case2_5_PingOver125BytesIsAProtocolError) {
  EXPECT_EQ(talk(ws_frame(0x89, std::string(126, 'p')) + kClose),
            (V{"close:1002:control frame too long", "EOF"}));
}

TEST_F(WebSocketConformanceTest, Case2_7_UnsolicitedPongsAreIgnored) {
  EXPECT_EQ(talk(ws_frame(0x8A, "") + kClose), (V{"close:1000:", "EOF"}));
  EXPECT_EQ(talk(ws_frame(0x8A, "unsolicited") + kClose), (V{"close:1000:", "EOF"}));  // 2.8
  EXPECT_EQ(talk(ws_frame(0x8A, "unsolicited") + ws_frame(0x89, "ping") + kClose),     // 2.9
            (V{"pong:ping", "close:1000:", "EOF"}));
}

TEST_F(WebSocketConformanceTest, Case2_10_TenPingsTenPongs) {
  std::string wire;
  V expected;
  for (int i = 0; i < 10; ++i) {
    wire += ws_frame(0x89, "payload-" + std::to_string(i));
    expected.push_back("pong:payload-" + std::to_string(i));
  }
  expected.insert(expected.end(), {"close:1000:", "EOF"});
  EXPECT_EQ(talk(wire + kClose), expected);
  EXPECT_EQ(talk(wire + kClose, 1), expected);  // 2.11: chopped into single bytes
}

// ---- 3: reserved bits ---------------------------------------------------------------------

TEST_F(WebSocketConformanceTest, Case3_ReservedBitsFailTheConnection) {
  const std::string fail = "close:1002:reserved bits set";
  // 3.1: RSV1 without a negotiated extension
  EXPECT_EQ(talk(ws_frame(0xC1, "Hello") + kClose),
            (V{"close:1002:RSV1 set without permessage-deflate", "EOF"}));
  // 3.2: a good text, then RSV2 text, then a ping that must not be answered
  EXPECT_EQ(talk(ws_frame(0x81, "Hello") + ws_frame(0xA1, "Hello") + ws_frame(0x89, "")),
            (V{"text:Hello", fail, "EOF"}));
  EXPECT_EQ(talk(ws_frame(0x81, "Hello") + ws_frame(0xB1, "Hello") + ws_frame(0x89, ""), 1),
            (V{"text:Hello", fail, "EOF"}));  // 3.3/3.4: RSV1+2, chopped
  EXPECT_EQ(talk(ws_frame(0xD2, "\x00\xff") + kClose), (V{fail, "EOF"}));     // 3.5 binary RSV1+3
  EXPECT_EQ(talk(ws_frame(0xE9, "ping") + kClose), (V{fail, "EOF"}));         // 3.6 ping RSV2+3
  EXPECT_EQ(talk(ws_frame(0xF8, ws_close_payload(1000))), (V{fail, "EOF"}));  // 3.7 close, all
}

// ---- 4: opcodes ---------------------------------------------------------------------------

TEST_F(WebSocketConformanceTest, Case4_ReservedOpcodesFailTheConnection) {
  for (int op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    EXPECT_EQ(talk(ws_frame(0x81, "Hello") + ws_frame(0x80 | op, "payload") + ws_frame(0x89, "")),
              (V{"text:Hello", "close:1002:unknown opcode", "EOF"}))
        << op;
  }
}

// ---- 5: fragmentation ---------------------------------------------------------------------

TEST_F(WebSocketConformanceTest, Case5_1_FragmentedControlFramesFail) {
  EXPECT_EQ(talk(ws_frame(0x09, "frag1") + ws_frame(0x80, "frag2")),
            (V{"close:1002:fragmented control frame", "EOF"}));
  EXPECT_EQ(talk(ws_frame(0x0A, "frag1") + ws_frame(0x80, "frag2")),  // 5.2
            (V{"close:1002:fragmented control frame", "EOF"}));
}

TEST_F(WebSocketConformanceTest, Case5_3_FragmentedTextIsAssembled) {
  const std::string wire = ws_frame(0x01, "frag1") + ws_frame(0x80, "frag2") + kClose;
  for (std::size_t piece : {0, 1, 5}) {  // 5.3, 5.5 (chopped), 5.4
    EXPECT_EQ(talk(wire, piece), (V{"text:frag1frag2", "close:1000:", "EOF"}));
  }
}

TEST_F(WebSocketConformanceTest, Case5_6_PingsBetweenFragmentsAreAnswered) {
  const std::string wire =
      ws_frame(0x01, "frag1") + ws_frame(0x89, "ping") + ws_frame(0x80, "frag2") + kClose;
  for (std::size_t piece : {0, 1}) {  // 5.6, 5.8
    EXPECT_EQ(talk(wire, piece), (V{"pong:ping", "text:frag1frag2", "close:1000:", "EOF"}));
  }
  // 5.19/5.20: several fragments with pings between them.
  std::string many;
  for (int i = 0; i < 5; ++i) {
    many +=
        ws_frame(i == 0 ? 0x01 : 0x00, "f" + std::to_string(i)) + ws_frame(0x89, std::to_string(i));
  }
  many += ws_frame(0x80, "end") + kClose;
  EXPECT_EQ(talk(many), (V{"pong:0", "pong:1", "pong:2", "pong:3", "pong:4", "text:f0f1f2f3f4end",
                           "close:1000:", "EOF"}));
}

TEST_F(WebSocketConformanceTest, Case5_9_ContinuationWithoutAMessageFails) {
  const std::string fail = "close:1002:continuation of nothing";
  EXPECT_EQ(talk(ws_frame(0x80, "non-continuation payload") + ws_frame(0x81, "Hello")),
            (V{fail, "EOF"}));                                                          // 5.9
  EXPECT_EQ(talk(ws_frame(0x80, "x") + ws_frame(0x81, "Hello"), 1), (V{fail, "EOF"}));  // 5.11
  EXPECT_EQ(talk(ws_frame(0x00, "x") + ws_frame(0x81, "Hello")), (V{fail, "EOF"}));     // 5.12
  // 5.15: a whole fragmented message, then a stray continuation.
  EXPECT_EQ(talk(ws_frame(0x01, "fragment1") + ws_frame(0x80, "fragment2") +
                 ws_frame(0x00, "fragment3") + ws_frame(0x80, "fragment4")),
            (V{"text:fragment1fragment2", fail, "EOF"}));
}

TEST_F(WebSocketConformanceTest, Case5_17_NewMessageInsideAFragmentedOneFails) {
  EXPECT_EQ(talk(ws_frame(0x01, "fragment1") + ws_frame(0x01, "fragment2")),
            (V{"close:1002:new message inside a fragmented one", "EOF"}));
}

// ---- 6: UTF-8 -----------------------------------------------------------------------------

const std::string kHello = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5";  // κόσμε

TEST_F(WebSocketConformanceTest, Case6_1_EmptyTextFragments) {
  EXPECT_EQ(talk(ws_frame(0x01, "") + ws_frame(0x00, "") + ws_frame(0x80, "") + kClose),
            (V{"text:", "close:1000:", "EOF"}));
  EXPECT_EQ(talk(ws_frame(0x01, "") + ws_frame(0x00, "middle") + ws_frame(0x80, "") + kClose),
            (V{"text:middle", "close:1000:", "EOF"}));
}

TEST_F(WebSocketConformanceTest, Case6_2_ValidUtf8SplitAtEveryByte) {
  const std::string text =
      "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!";
  EXPECT_EQ(talk(ws_frame(0x81, text) + kClose), (V{"text:" + text, "close:1000:", "EOF"}));
  // 6.2.3/6.2.4: one fragment per byte (code points split across fragments).
  std::string wire;
  for (std::size_t i = 0; i < kHello.size(); ++i) {
    const uint8_t first = (i == 0 ? 0x01 : 0x00) | (i + 1 == kHello.size() ? 0x80 : 0);
    wire += ws_frame(first, kHello.substr(i, 1));
  }
  EXPECT_EQ(talk(wire + kClose), (V{"text:" + kHello, "close:1000:", "EOF"}));
}

TEST_F(WebSocketConformanceTest, Case6_InvalidUtf8IsClosedWith1007) {
  const std::string fail = "close:1007:invalid UTF-8 in a text message";
  // A sample of the Autobahn 6.3-6.21 sequences: overlong forms, surrogates, values past
  // U+10FFFF, lone continuation bytes, bytes FE/FF, and a truncated sequence at the end.
  for (std::string bad :
       {kHello + "\xed\xa0\x80" + "edited", std::string("\xc0\xaf"), std::string("\xe0\x80\xaf"),
        std::string("\xf0\x80\x80\xaf"), std::string("\xf4\x90\x80\x80"), std::string("\x80"),
        std::string("\xbf"), std::string("\xfe"), std::string("\xff"), std::string("\xed\xbf\xbf"),
        std::string("\xc0 ")}) {
    EXPECT_EQ(talk(ws_frame(0x81, bad) + kClose), (V{fail, "EOF"}))
        << ::testing::PrintToString(bad);
  }
  // Incomplete at the end of the message: caught when the message ends.
  EXPECT_EQ(talk(ws_frame(0x81, "\xce\xba\xe1\xbd") + kClose),
            (V{"close:1007:text message ends inside a code point", "EOF"}));
  // 6.3.2: in fragments.
  EXPECT_EQ(talk(ws_frame(0x01, kHello.substr(0, 5)) + ws_frame(0x00, "\xed\xa0\x80") +
                 ws_frame(0x80, "edited") + kClose),
            (V{fail, "EOF"}));
}

// 6.4.x: the connection fails at the first bad byte, before the rest of the frame (or the
// remaining fragments) is sent.
TEST_F(WebSocketConformanceTest, Case6_4_InvalidUtf8FailsFast) {
  for (int variant = 0; variant < 2; ++variant) {
    auto events = run_sync([&]() -> Task<V> {
      auto ws = co_await RawWebSocket::connect(get_http_port(), "/echo");
      const std::string bad = kHello + "\xf4\x90\x80\x80" + "edited";
      if (variant == 0) {
        // 6.4.1: one frame; only its first part (up to the bad bytes) is sent.
        const std::string whole = ws_frame(0x81, bad + std::string(1000, 'x'));
        co_await ws->send(whole.substr(0, 8 + kHello.size() + 4));
      } else {
        // 6.4.3: first fragment valid, second fragment starts the bad sequence.
        co_await ws->send(ws_frame(0x01, kHello) + ws_frame(0x00, "\xf4\x90"));
      }
      auto f = co_await ws->read_frame();  // arrives although the message is unfinished
      V out;
      if (f) out.push_back(RawWebSocket::describe(*f));
      co_return out;
    });
    EXPECT_EQ(events, (V{"close:1007:invalid UTF-8 in a text message"})) << variant;
  }
}

// ---- 7: close handling --------------------------------------------------------------------

TEST_F(WebSocketConformanceTest, Case7_1_NothingIsAnsweredAfterTheClose) {
  EXPECT_EQ(talk(ws_frame(0x81, "Hello") + kClose),
            (V{"text:Hello", "close:1000:", "EOF"}));                            // 7.1.1
  EXPECT_EQ(talk(kClose + kClose), (V{"close:1000:", "EOF"}));                   // 7.1.2
  EXPECT_EQ(talk(kClose + ws_frame(0x89, "")), (V{"close:1000:", "EOF"}));       // 7.1.3
  EXPECT_EQ(talk(kClose + ws_frame(0x81, "Hello")), (V{"close:1000:", "EOF"}));  // 7.1.4
  EXPECT_EQ(talk(ws_frame(0x01, "frag") + kClose + ws_frame(0x80, "ment")),      // 7.1.5
            (V{"close:1000:", "EOF"}));
  const std::string big(256 << 10, 'b');  // 7.1.6
  EXPECT_EQ(talk(ws_frame(0x81, big) + ws_frame(0x89, "") + kClose),
            (V{"text:" + big, "pong:", "close:1000:", "EOF"}));
}

TEST_F(WebSocketConformanceTest, Case7_3_ClosePayloads) {
  EXPECT_EQ(talk(ws_frame(0x88, "")), (V{"close:", "EOF"}));  // 7.3.1
  EXPECT_EQ(talk(ws_frame(0x88, "\x03")),
            (V{"close:1002:close frame of one byte", "EOF"}));                           // 7.3.2
  EXPECT_EQ(talk(close_frame(1000)), (V{"close:1000:", "EOF"}));                         // 7.3.3
  EXPECT_EQ(talk(close_frame(1000, "Hello World!")), (V{"close:1000:", "EOF"}));         // 7.3.4
  EXPECT_EQ(talk(close_frame(1000, std::string(123, 'r'))), (V{"close:1000:", "EOF"}));  // 7.3.5
  EXPECT_EQ(talk(close_frame(1000, std::string(124, 'r'))),                              // 7.3.6
            (V{"close:1002:control frame too long", "EOF"}));
  EXPECT_EQ(talk(close_frame(1000, kHello + "\xed\xa0\x80")),  // 7.5.1
            (V{"close:1007:close reason not UTF-8", "EOF"}));
}

TEST_F(WebSocketConformanceTest, Case7_7_ValidCloseCodesAreEchoed) {
  for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000,
                   3999, 4000, 4999}) {
    EXPECT_EQ(talk(close_frame(code)), (V{"close:" + std::to_string(code) + ":", "EOF"})) << code;
  }
}

// 7.9.x and 7.13.x, and beyond them every code 0-65535 that may not be sent: each is a
// protocol error. (The parser test checks all 65,536; here the server is asked for every
// invalid code below 5000 and a sample above, over one connection each.)
TEST_F(WebSocketConformanceTest, Case7_9_EveryInvalidCloseCodeIs1002) {
  std::vector<int> codes;
  for (int code = 0; code < 5000; ++code) {
    if (!websocket::detail::is_valid_close_code(code)) codes.push_back(code);
  }
  for (int code : {5000, 6000, 10000, 32768, 65535}) codes.push_back(code);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    // Every code below 1016 and 2999-3000, then every 7th one (the suite's time stays small).
    const int code = codes[i];
    if (code > 1016 && code < 2990 && i % 7 != 0) continue;
    ASSERT_EQ(talk(close_frame(code)), (V{"close:1002:invalid close code", "EOF"})) << code;
  }
}

// ---- 9: large messages (scaled down: up to 4 MiB instead of 16 MiB) ------------------------

TEST_F(WebSocketConformanceTest, Case9_1_LargeTextAndBinaryMessages) {
  for (std::size_t n : {64u << 10, 256u << 10, 1u << 20, 4u << 20}) {
    const std::string text(n, 'x');
    EXPECT_EQ(talk(ws_frame(0x81, text) + kClose), (V{"text:" + text, "close:1000:", "EOF"})) << n;
    const std::string bin(n, '\xfe');
    EXPECT_EQ(talk(ws_frame(0x82, bin) + kClose), (V{"binary:" + bin, "close:1000:", "EOF"})) << n;
  }
}

TEST_F(WebSocketConformanceTest, Case9_3_LargeMessagesInFragmentsOfEverySize) {
  const std::string text(1 << 20, 'f');
  for (std::size_t fragment : {64u, 256u, 1u << 10, 4u << 10, 16u << 10, 64u << 10, 1u << 20}) {
    std::string wire;
    for (std::size_t i = 0; i < text.size(); i += fragment) {
      const bool first = i == 0, last = i + fragment >= text.size();
      wire += ws_frame((first ? 0x01 : 0x00) | (last ? 0x80 : 0), text.substr(i, fragment));
    }
    EXPECT_EQ(talk(wire + kClose), (V{"text:" + text, "close:1000:", "EOF"})) << fragment;
  }
}

TEST_F(WebSocketConformanceTest, Case9_5_LargeMessageChoppedIntoSmallWrites) {
  const std::string text(256 << 10, 'c');
  for (std::size_t piece : {64u, 1u << 10, 16u << 10}) {
    EXPECT_EQ(talk(ws_frame(0x81, text) + kClose, piece), (V{"text:" + text, "close:1000:", "EOF"}))
        << piece;
  }
}

TEST_F(WebSocketConformanceTest, MessagesOverTheLimitAre1009) {
  EXPECT_EQ(talk(ws_frame(0x82, std::string(1000, 'a')) + kClose, 0, "/small"),
            (V{"binary:" + std::string(1000, 'a'), "close:1000:", "EOF"}));
  EXPECT_EQ(talk(ws_frame(0x82, std::string(1001, 'a')), 0, "/small"),
            (V{"close:1009:message too big", "EOF"}));
  EXPECT_EQ(talk(ws_frame(0x02, std::string(600, 'a')) + ws_frame(0x80, std::string(600, 'a')), 0,
                 "/small"),
            (V{"close:1009:message too big", "EOF"}));
}

// ---- 12/13: permessage-deflate ------------------------------------------------------------

struct DeflateCase {
  std::string offer;     // Sec-WebSocket-Extensions sent
  std::string response;  // expected in the 101
  bool client_no_context_takeover;
  bool server_no_context_takeover;
  int client_window_bits;
};

class WebSocketDeflateConformanceTest : public WebSocketConformanceTest {
 protected:
  // Sends `count` messages of `size` bytes compressed as negotiated (our deflater with the
  // client's parameters), expects them echoed compressed, and inflates the answers.
  void check(const DeflateCase& c, std::size_t size, int count) {
    websocket::detail::Deflater deflater(6, 8, c.client_window_bits, c.client_no_context_takeover);
    std::string wire;
    V expected;
    for (int i = 0; i < count; ++i) {
      std::string msg = "message " + std::to_string(i) + " ";
      while (msg.size() < size) msg += "abcdefgh" + std::to_string(msg.size() % 97);
      msg.resize(size);
      std::string payload;
      deflater.compress(msg, payload);
      wire += ws_frame(0xC1, payload);
      expected.push_back("text:" + msg);
    }
    auto frames =
        talk(wire + kClose, 0, "/deflate", "Sec-WebSocket-Extensions: " + c.offer + "\r\n");
    EXPECT_NE(head_.find("Sec-WebSocket-Extensions: " + c.response + "\r\n"), std::string::npos)
        << head_;
    // Inflate what came back (with the server's context rules).
    websocket::detail::Inflater inflater(c.server_no_context_takeover);
    V got;
    for (const auto& f : frames) {
      if (f.starts_with("rsv1:text:")) {
        std::string out;
        std::string payload = f.substr(10);
        EXPECT_TRUE(inflater.inflate(payload, out, 1 << 30));
        EXPECT_TRUE(inflater.finish_message(out, 1 << 30));
        got.push_back("text:" + out);
      } else {
        got.push_back(f);
      }
    }
    expected.insert(expected.end(), {"close:1000:", "EOF"});
    EXPECT_EQ(got, expected) << c.offer << " size " << size;
  }
};

TEST_F(WebSocketDeflateConformanceTest, Case12_13_CompressedEchoForEachParameterSet) {
  const std::vector<DeflateCase> cases = {
      {"permessage-deflate", "permessage-deflate", false, false, 15},  // 13.1
      {"permessage-deflate; client_no_context_takeover",               // 13.2
       "permessage-deflate; client_no_context_takeover", true, false, 15},
      {"permessage-deflate; server_no_context_takeover",  // 13.3
       "permessage-deflate; server_no_context_takeover", false, true, 15},
      {"permessage-deflate; server_no_context_takeover; client_no_context_takeover",  // 13.4
       "permessage-deflate; server_no_context_takeover; client_no_context_takeover", true, true,
       15},
      {"permessage-deflate; client_max_window_bits=9",  // 13.5
       "permessage-deflate; client_max_window_bits=9", false, false, 9},
      {"permessage-deflate; server_max_window_bits=9",  // 13.6
       "permessage-deflate; server_max_window_bits=9", false, false, 15},
      {"permessage-deflate; client_max_window_bits",  // 13.7
       "permessage-deflate", false, false, 15},
      {"permessage-deflate; server_max_window_bits=8, permessage-deflate",  // declined, next
       "permessage-deflate", false, false, 15},
  };
  for (const auto& c : cases) {
    for (std::size_t size : {16u, 64u, 256u, 1024u, 4096u, 32768u}) check(c, size, 5);  // 12.x
  }
}

TEST_F(WebSocketDeflateConformanceTest, NoExtensionWithoutAnOfferOrWithABadOne) {
  EXPECT_EQ(talk(ws_frame(0x81, "plain") + kClose, 0, "/deflate"),
            (V{"text:plain", "close:1000:", "EOF"}));
  EXPECT_EQ(head_.find("Sec-WebSocket-Extensions"), std::string::npos);
  EXPECT_EQ(talk(ws_frame(0x81, "plain") + kClose, 0, "/deflate",
                 "Sec-WebSocket-Extensions: permessage-deflate; bogus=1\r\n"),
            (V{"text:plain", "close:1000:", "EOF"}));
  EXPECT_EQ(head_.find("Sec-WebSocket-Extensions"), std::string::npos);
  // Offered to a handler without compression: not accepted, RSV1 stays an error.
  EXPECT_EQ(
      talk(ws_frame(0xC1, "x"), 0, "/echo", "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
      (V{"close:1002:RSV1 set without permessage-deflate", "EOF"}));
  EXPECT_EQ(head_.find("Sec-WebSocket-Extensions"), std::string::npos);
}

TEST_F(WebSocketDeflateConformanceTest, CompressionBombIsClosedWith1009) {
  // 16 MiB of zeros (over the 10 MiB default) deflate to about 16 KiB.
  websocket::detail::Deflater deflater(9, 9, 15, true);
  std::string payload;
  deflater.compress(std::string(16 << 20, '\0'), payload);
  EXPECT_EQ(talk(ws_frame(0xC2, payload), 0, "/deflate",
                 "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
            (V{"close:1009:message too big after decompression", "EOF"}));
}

}  // namespace

}  // namespace websocket_conformance_test
