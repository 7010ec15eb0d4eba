// The black-box conformance driver for our client: a raw-socket server in the test answers
// the upgrade by hand, sends frames built byte by byte (unmasked, fragmented, with bad
// opcodes, reserved bits, masks, bad UTF-8, bad close codes, oversized), and reads back what
// our client sends — each frame checked to be masked and unmasked here, not by our parser.
// The client echoes every message it reads. Each case checks the exact echoes and the
// exact close code, and who closed the TCP connection. The Autobahn|Testsuite families
// (client side) are mapped to these tests in docs/websocket_conformance.md.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tornado/testing.h"
#include "tornado/websocket_client.h"
#include "websocket_client_peer_server.h"

namespace websocket_client_conformance_test {

using namespace tornado;
using namespace tornado::test;  // websocket_client_peer_server.h
using namespace std::chrono_literals;
using websocket::WebSocketConnectOptions;

namespace {

class WebSocketClientConformanceTest : public tornado::testing::AsyncTest {
 protected:
  // Runs `script` against our client, which echoes every message, and returns the server's
  // log.
  V run_script(Script script, const WebSocketConnectOptions& options = {}) {
    PeerServer peer(std::move(script));
    return run_sync([&]() -> Task<V> {
      auto ws = co_await websocket::websocket_connect(peer.url(), options);
      for (;;) {
        auto m = co_await ws->read_message();
        if (!m) break;
        try {
          co_await ws->write_message(m->data, m->binary);
        } catch (const websocket::WebSocketClosedError&) {
        }
      }
      close_code_ = ws->close_code();
      co_await peer.done;
      co_return peer.log;
    });
  }
  V run_case(std::vector<std::string> sends, const WebSocketConnectOptions& options = {}) {
    Script s;
    s.sends = std::move(sends);
    return run_script(std::move(s), options);
  }
  // The handshake error a script causes. The peer outlives the test: after a refused
  // handshake its connection coroutine may still be waiting on the socket, and it must not
  // be resumed in a later loop turn on a destroyed object (an ASan stack-use-after-return
  // when the peer lived on this frame). Kept reachable, so not a leak.
  std::string handshake_error(Script script, const WebSocketConnectOptions& options = {}) {
    static auto* kept = new std::vector<std::unique_ptr<PeerServer>>();
    kept->push_back(std::make_unique<PeerServer>(std::move(script)));
    PeerServer& peer = *kept->back();
    try {
      (void)run_sync([&]() -> Task<std::shared_ptr<websocket::WebSocketClientConnection>> {
        return websocket::websocket_connect(peer.url(), options);
      });
    } catch (const websocket::WebSocketError& e) {
      return std::string("WebSocketError: ") + e.what();
    } catch (const httpclient::HTTPClientError& e) {
      return "HTTPClientError " + std::to_string(e.code());
    }
    return "connected";
  }
  std::optional<int> close_code_;
};

const std::string kClose = server_close(1000);

// ---- 1: framing ---------------------------------------------------------------------------

TEST_F(WebSocketClientConformanceTest, Case1_TextAndBinaryOfEveryLengthForm) {
  for (std::size_t n : {0, 125, 126, 127, 128, 65535, 65536}) {
    SCOPED_TRACE(n);
    const std::string t(n, 'a'), b(n, '\xfe');
    EXPECT_EQ(run_case({text(t), kEcho, frame(0x82, b), kEcho, kClose}),
              (V{"text:" + t, "binary:" + b, "close:1000"}));
  }
  // 64-bit length for a short message, 16-bit for a tiny one: not minimal → 1002.
  EXPECT_EQ(run_case({ws_frame(0x81, "abc", false, 16)}), (V{"close:1002", "EOF"}));
  EXPECT_EQ(run_case({ws_frame(0x81, std::string(200, 'x'), false, 64)}), (V{"close:1002", "EOF"}));
}

TEST_F(WebSocketClientConformanceTest, Case1_MaskedServerFrameIs1002) {
  EXPECT_EQ(run_case({ws_frame(0x81, "masked", /*masked=*/true)}), (V{"close:1002", "EOF"}));
}

// ---- 2: pings -----------------------------------------------------------------------------

TEST_F(WebSocketClientConformanceTest, Case2_PingsAreAnsweredWithTheirPayload) {
  const std::string p125(125, 'p');
  EXPECT_EQ(run_case({frame(0x89, ""), frame(0x89, "hello"), frame(0x89, p125), kClose}),
            (V{"pong:", "pong:hello", "pong:" + p125, "close:1000"}));
}

TEST_F(WebSocketClientConformanceTest, Case2_PingOver125BytesIs1002) {
  EXPECT_EQ(run_case({frame(0x89, std::string(126, 'p'))}), (V{"close:1002", "EOF"}));
}

TEST_F(WebSocketClientConformanceTest, Case2_UnsolicitedPongsAreIgnored) {
  EXPECT_EQ(run_case({frame(0x8A, "unasked"), text("after"), kEcho, kClose}),
            (V{"text:after", "close:1000"}));
}

// ---- 3: reserved bits ---------------------------------------------------------------------

TEST_F(WebSocketClientConformanceTest, Case3_ReservedBitsAre1002) {
  for (uint8_t first : {0xC1, 0xA1, 0x91, 0xC2, 0xA9, 0xC8}) {
    SCOPED_TRACE(int(first));
    EXPECT_EQ(run_case({text("ok"), frame(first, "x"), frame(0x89, "unanswered")}),
              (V{"text:ok", "close:1002", "EOF"}));
  }
}

// ---- 4: opcodes ---------------------------------------------------------------------------

TEST_F(WebSocketClientConformanceTest, Case4_ReservedOpcodesAre1002) {
  for (uint8_t op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    SCOPED_TRACE(int(op));
    EXPECT_EQ(run_case({text("ok"), frame(static_cast<uint8_t>(0x80 | op), "x")}),
              (V{"text:ok", "close:1002", "EOF"}));
  }
}

// ---- 5: fragmentation ---------------------------------------------------------------------

TEST_F(WebSocketClientConformanceTest, Case5_FragmentsAreAssembledWithPingsBetween) {
  EXPECT_EQ(
      run_case({frame(0x01, "frag"), frame(0x89, "between"), frame(0x00, "men"), frame(0x80, "ted"),
                kEcho, kEcho, frame(0x02, "bi"), frame(0x80, "n"), kEcho, kClose}),
      (V{"pong:between", "text:fragmented", "binary:bin", "close:1000"}));
}

TEST_F(WebSocketClientConformanceTest, Case5_FragmentationErrorsAre1002) {
  EXPECT_EQ(run_case({frame(0x09, "fragmented ping"), frame(0x80, "")}), (V{"close:1002", "EOF"}));
  EXPECT_EQ(run_case({frame(0x80, "continuation of nothing")}), (V{"close:1002", "EOF"}));
  EXPECT_EQ(run_case({frame(0x01, "open"), frame(0x81, "new message")}), (V{"close:1002", "EOF"}));
}

// ---- 6: UTF-8 -----------------------------------------------------------------------------

TEST_F(WebSocketClientConformanceTest, Case6_ValidUtf8SplitAcrossFragments) {
  const std::string s = "κόσμε \xf0\x9f\x98\x80 end";
  for (std::size_t cut = 1; cut < s.size(); cut += 3) {
    SCOPED_TRACE(cut);
    EXPECT_EQ(run_case({frame(0x01, s.substr(0, cut)), frame(0x80, s.substr(cut)), kEcho, kClose}),
              (V{"text:" + s, "close:1000"}));
  }
}

TEST_F(WebSocketClientConformanceTest, Case6_InvalidUtf8Is1007) {
  for (std::string bad :
       {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80", "\xfe", "ab\xe2\x82"}) {
    SCOPED_TRACE(bad);
    EXPECT_EQ(run_case({text(bad)}), (V{"close:1007", "EOF"}));
  }
}

// The 1007 goes out while most of the frame is still unsent (the rest never comes).
TEST_F(WebSocketClientConformanceTest, Case6_InvalidUtf8FailsFast) {
  std::string header = frame(0x81, std::string(1000, 'a')).substr(0, 4);
  EXPECT_EQ(run_case({header + "ok\xff"}), (V{"close:1007", "EOF"}));
}

// ---- 7: close -----------------------------------------------------------------------------

TEST_F(WebSocketClientConformanceTest, Case7_ValidCloseCodesAreEchoed) {
  for (int code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000,
                   3999, 4000, 4999}) {
    SCOPED_TRACE(code);
    EXPECT_EQ(run_case({server_close(code, "reason")}), (V{"close:" + std::to_string(code)}));
    EXPECT_EQ(close_code_, code);
  }
}

TEST_F(WebSocketClientConformanceTest, Case7_EveryInvalidCloseCodeIs1002) {
  std::vector<int> codes = {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
  for (int code : codes) {
    SCOPED_TRACE(code);
    EXPECT_EQ(run_case({server_close(code)}), (V{"close:1002", "EOF"}));
  }
}

TEST_F(WebSocketClientConformanceTest, Case7_ClosePayloads) {
  EXPECT_EQ(run_case({frame(0x88, "")}), (V{"close:"}));  // empty close answered empty
  EXPECT_EQ(close_code_, std::nullopt);
  EXPECT_EQ(run_case({frame(0x88, "x")}), (V{"close:1002", "EOF"}));
  EXPECT_EQ(run_case({server_close(1000, std::string(123, 'r'))}), (V{"close:1000"}));
  EXPECT_EQ(run_case({server_close(1000, std::string(124, 'r'))}), (V{"close:1002", "EOF"}));
  EXPECT_EQ(run_case({server_close(1000, "\xff")}), (V{"close:1007", "EOF"}));
}

TEST_F(WebSocketClientConformanceTest, Case7_NothingIsAnsweredAfterTheClose) {
  EXPECT_EQ(run_case({kClose, frame(0x89, "late ping"), text("late text")}), (V{"close:1000"}));
}

// ---- 9: limits ----------------------------------------------------------------------------

TEST_F(WebSocketClientConformanceTest, Case9_MessagesOverTheLimitAre1009) {
  WebSocketConnectOptions options;
  options.max_message_size = 1000;
  EXPECT_EQ(run_case({text(std::string(1000, 'a')), kEcho, kClose}, options),
            (V{"text:" + std::string(1000, 'a'), "close:1000"}));
  // Announced too long: refused at the header, before the payload is read.
  EXPECT_EQ(run_case({frame(0x81, std::string(1001, 'a')).substr(0, 4)}, options),
            (V{"close:1009", "EOF"}));
  EXPECT_EQ(
      run_case({frame(0x01, std::string(600, 'a')), frame(0x80, std::string(401, 'a'))}, options),
      (V{"close:1009", "EOF"}));
}

TEST_F(WebSocketClientConformanceTest, Case9_LargeMessagesInSmallFragments) {
  std::vector<std::string> sends;
  const std::string big(256 * 1024, 'z');
  for (std::size_t i = 0; i < big.size(); i += 1000) {
    const bool first = i == 0, last = i + 1000 >= big.size();
    sends.push_back(
        frame(static_cast<uint8_t>((last ? 0x80 : 0) | (first ? 0x02 : 0)), big.substr(i, 1000)));
  }
  sends.push_back(kEcho);
  sends.push_back(kClose);
  EXPECT_EQ(run_case(sends), (V{"binary:" + big, "close:1000"}));
}

// ---- keepalive ----------------------------------------------------------------------------

TEST_F(WebSocketClientConformanceTest, PingTimeoutClosesTheConnection) {
  WebSocketConnectOptions options;
  options.ping_interval = 50ms;
  options.ping_timeout = 30ms;
  Script s;  // sends nothing and never answers the client's pings
  s.server_closes_first = true;
  EXPECT_EQ(run_script(s, options), (V{"ping:", "close:1000"}));
}

// ---- 12/13: permessage-deflate ------------------------------------------------------------

// A message compressed as a server would (raw deflate, sync flush, tail removed).
std::string deflated(websocket::detail::Deflater& d, std::string_view message) {
  std::string out;
  d.compress(message, out);
  return out;
}

TEST_F(WebSocketClientConformanceTest, Case12_CompressedMessagesAreInflatedAndEchoedCompressed) {
  websocket::detail::Deflater d(6, 8, 15, false);  // context takeover: later ones refer back
  std::vector<std::string> sends;
  std::vector<std::string> expected;
  for (std::size_t n : {16, 64, 256, 1024, 4096, 32768}) {
    std::string m;
    for (std::size_t i = 0; m.size() < n; ++i) m += "msg" + std::to_string(i % 7);
    m.resize(n);
    sends.push_back(frame(0xC1, deflated(d, m)));
    sends.push_back(kEcho);
    expected.push_back("rsv1:text:" + m);
  }
  sends.push_back(kClose);
  expected.push_back("close:1000");
  Script s;
  s.extensions = "permessage-deflate";
  s.inflate = true;
  s.sends = sends;
  WebSocketConnectOptions options;
  options.compression_options = websocket::CompressionOptions();
  EXPECT_EQ(run_script(s, options), expected);
}

TEST_F(WebSocketClientConformanceTest, Case12_UncompressedMessagesStillAllowed) {
  Script s;
  s.extensions = "permessage-deflate; server_no_context_takeover";
  s.inflate = true;
  s.sends = {text("plain"), kEcho, kClose};
  WebSocketConnectOptions options;
  options.compression_options = websocket::CompressionOptions();
  EXPECT_EQ(run_script(s, options), (V{"rsv1:text:plain", "close:1000"}));
}

TEST_F(WebSocketClientConformanceTest, Case12_CompressionBombIs1009) {
  websocket::detail::Deflater d(9, 8, 15, true);
  Script s;
  s.extensions = "permessage-deflate";
  s.sends = {frame(0xC2, deflated(d, std::string(4 << 20, '\0')))};
  WebSocketConnectOptions options;
  options.compression_options = websocket::CompressionOptions();
  options.max_message_size = 1 << 20;
  EXPECT_EQ(run_script(s, options), (V{"close:1009", "EOF"}));
}

TEST_F(WebSocketClientConformanceTest, Case12_Rsv1WithoutNegotiationIs1002) {
  WebSocketConnectOptions options;
  options.compression_options = websocket::CompressionOptions();  // offered, not accepted
  EXPECT_EQ(run_case({frame(0xC1, "x")}, options), (V{"close:1002", "EOF"}));
}

TEST_F(WebSocketClientConformanceTest, Case13_BadDeflateAnswersFailTheHandshake) {
  WebSocketConnectOptions offer;
  offer.compression_options = websocket::CompressionOptions();
  WebSocketConnectOptions strict;
  websocket::CompressionOptions o;
  o.set_server_no_context_takeover(true).set_server_max_window_bits(10).set_client_max_window_bits(
      10);
  strict.compression_options = o;
  auto with = [](std::string extensions) {
    Script s;
    s.extensions = std::move(extensions);
    return s;
  };
  const std::string prefix = "WebSocketError: WebSocket handshake: ";
  // Not offered at all.
  EXPECT_EQ(handshake_error(with("permessage-deflate")).substr(0, prefix.size() + 16),
            prefix + "the server chose");
  // Unknown extension, or two.
  EXPECT_EQ(handshake_error(with("x-webkit-deflate-frame"), offer).substr(0, prefix.size() + 16),
            prefix + "the server chose");
  EXPECT_EQ(handshake_error(with("permessage-deflate, permessage-deflate"), offer)
                .substr(0, prefix.size() + 16),
            prefix + "the server chose");
  // Invalid parameters.
  for (std::string bad : {"permessage-deflate; server_max_window_bits=16",
                          "permessage-deflate; client_max_window_bits",
                          "permessage-deflate; unknown", "permessage-deflate; x=\"1"}) {
    SCOPED_TRACE(bad);
    EXPECT_NE(handshake_error(with(bad), offer).find("WebSocketError"), std::string::npos);
  }
  // Answers that ignore what we asked of the server's compressor are accepted (Python
  // Tornado 6.2 answers so): our inflater copes with any window and with context takeover.
  EXPECT_EQ(handshake_error(with("permessage-deflate; server_max_window_bits=10; "
                                 "client_max_window_bits=10"),
                            strict),
            "connected");
  EXPECT_EQ(handshake_error(with("permessage-deflate; server_no_context_takeover; "
                                 "server_max_window_bits=11"),
                            strict),
            "connected");
  // Our own window must stay within our offer.
  EXPECT_NE(handshake_error(with("permessage-deflate; server_no_context_takeover; "
                                 "server_max_window_bits=9; client_max_window_bits=12"),
                            strict)
                .find("client_max_window_bits"),
            std::string::npos);
  EXPECT_EQ(handshake_error(with("permessage-deflate; server_no_context_takeover; "
                                 "server_max_window_bits=9; client_max_window_bits=8"),
                            strict),
            "connected");
}

// ---- the opening handshake ----------------------------------------------------------------

TEST_F(WebSocketClientConformanceTest, HandshakeRequestHasTheRequiredFields) {
  Script s;
  s.sends = {kClose};
  PeerServer peer(s);
  WebSocketConnectOptions options;
  options.subprotocols = {"a", "b"};
  run_sync([&]() -> Task<> {
    auto ws = co_await websocket::websocket_connect(peer.url(), options);
    while (co_await ws->read_message()) {
    }
    co_await peer.done;
  });
  const auto& head = peer.request_head;
  EXPECT_TRUE(head.starts_with("GET / HTTP/1.1\r\n")) << head;
  auto headers = httputil::HTTPHeaders::parse(head.substr(head.find("\r\n") + 2));
  EXPECT_EQ(headers.get("Upgrade", ""), "websocket");
  EXPECT_EQ(headers.get("Connection", ""), "Upgrade");
  EXPECT_EQ(headers.get("Sec-WebSocket-Version", ""), "13");
  EXPECT_TRUE(websocket::detail::is_valid_key(headers.get("Sec-WebSocket-Key", "")));
  EXPECT_EQ(headers.get("Sec-WebSocket-Protocol", ""), "a,b");
  EXPECT_FALSE(headers.contains("Sec-WebSocket-Extensions"));
  EXPECT_TRUE(headers.contains("Host"));
}

TEST_F(WebSocketClientConformanceTest, BadHandshakeAnswersAreErrors) {
  Script wrong_accept;
  wrong_accept.accept = "dGhlIHNhbXBsZSBub25jZQ==";
  EXPECT_NE(handshake_error(wrong_accept).find("Sec-WebSocket-Accept"), std::string::npos);
  Script no_upgrade;
  no_upgrade.upgrade_header = false;
  EXPECT_NE(handshake_error(no_upgrade).find("Upgrade: websocket"), std::string::npos);
  Script protocol;
  protocol.extra_head = "Sec-WebSocket-Protocol: unoffered\r\n";
  WebSocketConnectOptions offered;
  offered.subprotocols = {"chat"};
  EXPECT_NE(handshake_error(protocol, offered).find("not offered"), std::string::npos);
  EXPECT_NE(handshake_error(protocol).find("not offered"), std::string::npos);
  Script forbidden;
  forbidden.status = 403;
  EXPECT_EQ(handshake_error(forbidden), "HTTPClientError 403");
}

}  // namespace

}  // namespace websocket_client_conformance_test
