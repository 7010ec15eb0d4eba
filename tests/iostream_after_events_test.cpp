// One loop iteration's order for streams (IOLoop::finish_after_events): every stream whose
// read the iteration's events completed has read before any reader resumes, and what the
// resumed readers write goes out after all of them ran. Over plain TCP and TLS.
#include <sys/ioctl.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "iostream_test_util.h"

namespace tornado {
namespace iostream_after_events_test {

using test::make_pair;
using test::PairOptions;
using test::StreamPair;

enum class Mode { kPlain, kTLS };

class AfterEventsTest : public testing::AsyncTest, public ::testing::WithParamInterface<Mode> {
 public:
  static void SetUpTestSuite() { test::TestCert::get(); }

 protected:
  static constexpr int kStreams = 4;
  // kStreams connected pairs; the server sides read, the clients write.
  Task<std::vector<StreamPair>> pairs() {
    std::vector<StreamPair> out;
    for (int i = 0; i < kStreams; ++i) {
      PairOptions o;
      o.tls = GetParam() == Mode::kTLS;
      out.push_back(co_await make_pair(o));
    }
    co_return out;
  }
  // Each client's request, sent within one loop iteration: they reach the servers' sockets
  // before the loop next waits, so one iteration's events carry all of them.
  static void send_requests(std::vector<StreamPair>& p) {
    for (auto& pair : p) (void)pair.client->write("ping!");
  }
};

int bytes_waiting(int fd) {
  int n = 0;
  return ::ioctl(fd, FIONREAD, &n) == 0 ? n : -1;
}

// Without the order, the first reader would resume inside its own stream's events, before
// the other streams' sockets were read: they would find nothing buffered.
TEST_P(AfterEventsTest, EveryReadOfAnIterationCompletesBeforeAnyReaderResumes) {
  run_sync([&]() -> Task<> {
    auto p = co_await pairs();
    std::vector<int> others_buffered;  // per resumed reader: the others with their bytes read
    std::vector<Future<void>> readers;
    for (int i = 0; i < kStreams; ++i) {
      readers.push_back(spawn([](std::vector<StreamPair>& p, int i,
                                 std::vector<int>& others_buffered) -> Task<> {
        EXPECT_EQ(co_await p[i].server->read_bytes(5), "ping!");
        int buffered = 0;
        for (int j = 0; j < kStreams; ++j) {
          if (j != i && !p[j].server->read_buffer().empty()) ++buffered;
        }
        others_buffered.push_back(buffered);
      }(p, i, others_buffered)));
    }
    co_await moment{};  // every reader waits on its socket
    send_requests(p);
    for (auto& r : readers) co_await r;
    EXPECT_EQ(others_buffered.size(), static_cast<std::size_t>(kStreams));
    others_buffered.resize(kStreams, -1);
    // The first to resume saw all the others' bytes read; each later one the rest.
    for (int k = 0; k < kStreams; ++k) EXPECT_EQ(others_buffered[k], kStreams - 1 - k) << k;
    for (auto& pair : p) pair.server->close(), pair.client->close();
  });
}

// Without the order, the first reader's answer would be sent at the end of its own events,
// before the second reader ran: the second would see it arrived.
TEST_P(AfterEventsTest, WritesOfResumedReadersAreSentAfterEveryReaderRan) {
  run_sync([&]() -> Task<> {
    auto p = co_await pairs();
    // One exchange first: over TLS the server sends its session tickets with its first
    // records, which the client takes in with the answer.
    for (auto& pair : p) {
      co_await pair.client->write("hi");
      EXPECT_EQ(co_await pair.server->read_bytes(2), "hi");
      co_await pair.server->write("ho");
      EXPECT_EQ(co_await pair.client->read_bytes(2), "ho");
    }
    int answers_seen_early = 0;
    std::vector<int> before(kStreams);  // bytes already waiting at each client
    std::vector<Future<void>> readers;
    for (int i = 0; i < kStreams; ++i) {
      readers.push_back(spawn([](std::vector<StreamPair>& p, int i, int& answers_seen_early,
                                 const std::vector<int>& before) -> Task<> {
        EXPECT_EQ(co_await p[i].server->read_bytes(5), "ping!");
        for (int j = 0; j < kStreams; ++j) {
          if (bytes_waiting(p[j].client->fd()) != before[j]) ++answers_seen_early;
        }
        (void)p[i].server->write("pong" + std::to_string(i));  // not awaited
      }(p, i, answers_seen_early, before)));
    }
    co_await moment{};
    for (int j = 0; j < kStreams; ++j) before[j] = bytes_waiting(p[j].client->fd());
    send_requests(p);
    for (auto& r : readers) co_await r;
    EXPECT_EQ(answers_seen_early, 0);
    for (int i = 0; i < kStreams; ++i) {
      EXPECT_EQ(co_await p[i].client->read_bytes(5), "pong" + std::to_string(i));
    }
    for (auto& pair : p) pair.server->close(), pair.client->close();
  });
}

// reserve_later/commit_later: bytes in the thread's arena, sent by the end of the
// iteration; a write queued behind them keeps its place after them; two streams' bytes
// side by side in the arena reach their own peers. Outside that window there is no room.
TEST_P(AfterEventsTest, LaterBytesGoOutInOrderBeforeWritesQueuedBehindThem) {
  run_sync([&]() -> Task<> {
    auto p = co_await pairs();
    const bool tls = GetParam() == Mode::kTLS;
    EXPECT_EQ(p[0].server->reserve_later(5), nullptr);  // not after an iteration's events
    std::vector<Future<void>> readers;
    for (int i = 0; i < kStreams; ++i) {
      readers.push_back(spawn([](std::vector<StreamPair>& p, int i, bool tls) -> Task<> {
        EXPECT_EQ(co_await p[i].server->read_bytes(5), "ping!");
        IOStream& s = *p[i].server;
        EXPECT_TRUE(s.sends_after_events());
        const std::string head = "head" + std::to_string(i) + ":";
        char* room = s.reserve_later(head.size());
        if (tls) {
          EXPECT_EQ(room, nullptr);  // a TLS stream's bytes go through its own path
          (void)s.write(head);
        } else {
          EXPECT_NE(room, nullptr);
          std::memcpy(room, head.data(), head.size());
          s.commit_later(head.size());
          EXPECT_EQ(s.write_buffer_size(), head.size());
        }
        // An odd stream writes again behind them (queued); an even one extends its slice
        // when it ends where the arena does.
        if (i % 2 == 1) {
          (void)s.write("tail");
        } else if (char* more = s.reserve_later(4)) {
          std::memcpy(more, "tail", 4);
          s.commit_later(4);
        } else {
          (void)s.write("tail");
        }
      }(p, i, tls)));
    }
    co_await moment{};
    send_requests(p);
    for (auto& r : readers) co_await r;
    for (int i = 0; i < kStreams; ++i) {
      EXPECT_EQ(co_await p[i].client->read_bytes(10), "head" + std::to_string(i) + ":tail");
    }
    for (auto& pair : p) pair.server->close(), pair.client->close();
  });
}

// More than the arena holds in one iteration: the writers past it get no room and queue
// (reserve_write); every peer still gets its own bytes, whole.
TEST_P(AfterEventsTest, WritesPastAFullArenaAreQueuedAndArriveWhole) {
  run_sync([&]() -> Task<> {
    auto p = co_await pairs();
    const std::size_t size = 40 * 1024;  // two of them do not fit in the 64 KiB arena
    int without_room = 0;
    std::vector<Future<void>> readers;
    for (int i = 0; i < kStreams; ++i) {
      readers.push_back(spawn([](std::vector<StreamPair>& p, int i, std::size_t size,
                                 int& without_room) -> Task<> {
        EXPECT_EQ(co_await p[i].server->read_bytes(5), "ping!");
        IOStream& s = *p[i].server;
        char* room = s.reserve_later(size);
        if (room == nullptr) {
          ++without_room;
          room = s.reserve_write(size);
          std::memset(room, 'a' + i, size);
          s.commit_write_unawaited(size);
        } else {
          std::memset(room, 'a' + i, size);
          s.commit_later(size);
        }
      }(p, i, size, without_room)));
    }
    co_await moment{};
    send_requests(p);
    for (auto& r : readers) co_await r;
    EXPECT_GE(without_room, kStreams - 1);  // at most one fits (TLS: none is offered room)
    for (int i = 0; i < kStreams; ++i) {
      EXPECT_EQ(co_await p[i].client->read_bytes(size), std::string(size, 'a' + i)) << i;
    }
    for (auto& pair : p) pair.server->close(), pair.client->close();
  });
}

// A stream closed by another's work after its bytes went into the arena sends nothing;
// the streams after it send theirs, this iteration and the next.
// (Plain streams only: a TLS stream gets no room in the arena, and its close sends what it
// had queued before the close_notify.)
TEST_P(AfterEventsTest, AStreamClosedWithBytesInTheArenaSendsNothingAndTheOthersTheirs) {
  if (GetParam() == Mode::kTLS) GTEST_SKIP() << "no arena for TLS streams";
  run_sync([&]() -> Task<> {
    for (int round = 0; round < 2; ++round) {
      auto p = co_await pairs();
      int resumed = 0;
      std::vector<Future<void>> readers;
      for (int i = 0; i < kStreams; ++i) {
        readers.push_back(spawn([](std::vector<StreamPair>& p, int i, int& resumed) -> Task<> {
          EXPECT_EQ(co_await p[i].server->read_bytes(5), "ping!");
          IOStream& s = *p[i].server;
          // The first reader to run is answered, then closed by the second.
          if (resumed++ == 1) {
            for (auto& pair : p) {
              if (pair.server->write_buffer_size() != 0) pair.server->close();
            }
          }
          const std::string answer = "pong" + std::to_string(i);
          if (char* room = s.reserve_later(answer.size())) {
            std::memcpy(room, answer.data(), answer.size());
            s.commit_later(answer.size());
          } else if (!s.closed()) {
            (void)s.write(answer);
          }
        }(p, i, resumed)));
      }
      co_await moment{};
      send_requests(p);
      for (auto& r : readers) co_await r;
      int answered = 0, closed = 0;
      for (int i = 0; i < kStreams; ++i) {
        if (p[i].server->closed()) {
          ++closed;
          EXPECT_THROW(co_await p[i].client->read_bytes(1), StreamClosedError);
        } else {
          ++answered;
          EXPECT_EQ(co_await p[i].client->read_bytes(5), "pong" + std::to_string(i));
        }
      }
      EXPECT_EQ(closed, 1);
      EXPECT_EQ(answered, kStreams - 1);
      for (auto& pair : p) pair.server->close(), pair.client->close();
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Transport, AfterEventsTest, ::testing::Values(Mode::kPlain, Mode::kTLS),
                         [](const auto& info) {
                           return info.param == Mode::kPlain ? std::string("Plain")
                                                             : std::string("TLS");
                         });

}  // namespace iostream_after_events_test
}  // namespace tornado
