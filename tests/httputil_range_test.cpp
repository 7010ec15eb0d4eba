// The Range header (Tornado's _parse_request_range doctests and the decisions of
// StaticFileHandler's range tests in web_test.py), Content-Range, and the limits this port
// adds (saturation of huge positions, strict digits, a 10 GB range).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

#include "tornado/httputil.h"

namespace tornado::httputil {
namespace httputil_range_test {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
const std::optional<int64_t> none;

ByteRange br(std::optional<int64_t> start, std::optional<int64_t> end) { return {start, end}; }

TEST(ParseRequestRangeTest, FirstAndLastArePositionsOfASlice) {
  EXPECT_EQ(parse_request_range("bytes=1-2"), br(1, 3));
  EXPECT_EQ(parse_request_range("bytes=0-0"), br(0, 1));
}

TEST(ParseRequestRangeTest, OpenEndedRange) {
  EXPECT_EQ(parse_request_range("bytes=6-"), br(6, none));
  EXPECT_EQ(parse_request_range("bytes=26"), br(26, none));  // no dash: Tornado reads a start
}

TEST(ParseRequestRangeTest, SuffixRangeIsANegativeStart) {
  EXPECT_EQ(parse_request_range("bytes=-6"), br(-6, none));
}

TEST(ParseRequestRangeTest, ZeroSuffixKeepsEndZero) {
  EXPECT_EQ(parse_request_range("bytes=-0"), br(none, 0));
}

TEST(ParseRequestRangeTest, EmptySpecIsTheWholeRepresentation) {
  EXPECT_EQ(parse_request_range("bytes="), br(none, none));
  EXPECT_EQ(parse_request_range("bytes=-"), br(none, none));
}

TEST(ParseRequestRangeTest, OtherUnitsAreIgnored) {
  EXPECT_EQ(parse_request_range("foo=42"), std::nullopt);
  EXPECT_EQ(parse_request_range("asdf"), std::nullopt);
  EXPECT_EQ(parse_request_range(""), std::nullopt);
  EXPECT_EQ(parse_request_range("bytesx=1-2"), std::nullopt);
}

TEST(ParseRequestRangeTest, UnitIsCaseInsensitiveAndWhitespaceIsAllowed) {
  EXPECT_EQ(parse_request_range("Bytes=1-2"), br(1, 3));
  EXPECT_EQ(parse_request_range(" bytes = 1 - 2 "), br(1, 3));
  EXPECT_EQ(parse_request_range("bytes=\t-5"), br(-5, none));
}

TEST(ParseRequestRangeTest, MultipleRangesAreIgnored) {
  EXPECT_EQ(parse_request_range("bytes=1-2,6-10"), std::nullopt);
  EXPECT_EQ(parse_request_range("bytes=0-,5-"), std::nullopt);
  EXPECT_EQ(parse_request_range("bytes=-5, -3"), std::nullopt);
}

TEST(ParseRequestRangeTest, PositionsMustBeDecimalDigits) {
  for (const char* bad : {"bytes=+1-2", "bytes=1_0-20", "bytes=0x10-", "bytes=1-2-3", "bytes=--5",
                          "bytes=5--6", "bytes=a-b", "bytes=1 0-2", "bytes=1.5-"}) {
    EXPECT_EQ(parse_request_range(bad), std::nullopt) << bad;
  }
}

TEST(ParseRequestRangeTest, HugePositionsSaturate) {
  EXPECT_EQ(parse_request_range("bytes=99999999999999999999999-"), br(kMax, none));
  EXPECT_EQ(parse_request_range("bytes=0-99999999999999999999999"), br(0, kMax));
  EXPECT_EQ(parse_request_range("bytes=0-9223372036854775806"), br(0, kMax));
  EXPECT_EQ(parse_request_range("bytes=-99999999999999999999999"), br(-kMax, none));
}

TEST(GetContentRangeTest, TornadoForms) {
  EXPECT_EQ(get_content_range(none, 1, 4), "bytes 0-0/4");
  EXPECT_EQ(get_content_range(1, 3, 4), "bytes 1-2/4");
  EXPECT_EQ(get_content_range(none, none, 4), "bytes 0-3/4");
  EXPECT_EQ(get_content_range(22, none, 26), "bytes 22-25/26");
}

// ---- decisions against a 26-byte file (web_test.py's robots.txt) ----

RangeDecision decide(std::string_view header, int64_t size = 26) {
  return decide_range(parse_request_range(header), size);
}

TEST(DecideRangeTest, NoRangeIsTheWholeFile) {
  auto d = decide_range(std::nullopt, 26);
  EXPECT_EQ(d.kind, RangeDecision::kWhole);
  EXPECT_EQ(d.start, 0);
  EXPECT_EQ(d.end, 26);
  EXPECT_EQ(d.content_range, "");
}

TEST(DecideRangeTest, RangeFromStartIs206) {
  auto d = decide("bytes=0-9");
  EXPECT_EQ(d.kind, RangeDecision::kPartial);
  EXPECT_EQ(d.start, 0);
  EXPECT_EQ(d.end, 10);
  EXPECT_EQ(d.content_range, "bytes 0-9/26");
}

TEST(DecideRangeTest, WholeFileRangeIs200) {
  EXPECT_EQ(decide("bytes=0-").kind, RangeDecision::kWhole);
  EXPECT_EQ(decide("bytes=0-10000000").kind, RangeDecision::kWhole);
  EXPECT_EQ(decide("bytes=0-25").kind, RangeDecision::kWhole);
  EXPECT_EQ(decide("bytes=").kind, RangeDecision::kWhole);
}

TEST(DecideRangeTest, EndPastFileIsCapped) {
  auto d = decide("bytes=1-10000000");
  EXPECT_EQ(d.kind, RangeDecision::kPartial);
  EXPECT_EQ(d.start, 1);
  EXPECT_EQ(d.end, 26);
  EXPECT_EQ(d.content_range, "bytes 1-25/26");
}

TEST(DecideRangeTest, OpenEndedRangeRunsToTheEnd) {
  auto d = decide("bytes=22-");
  EXPECT_EQ(d.kind, RangeDecision::kPartial);
  EXPECT_EQ(d.length(), 4);
  EXPECT_EQ(d.content_range, "bytes 22-25/26");
}

TEST(DecideRangeTest, SuffixRangeIsTheTail) {
  auto d = decide("bytes=-4");
  EXPECT_EQ(d.kind, RangeDecision::kPartial);
  EXPECT_EQ(d.start, 22);
  EXPECT_EQ(d.end, 26);
  EXPECT_EQ(d.content_range, "bytes 22-25/26");
}

TEST(DecideRangeTest, SuffixLongerThanFileIsTheWholeFile) {
  EXPECT_EQ(decide("bytes=-1000000").kind, RangeDecision::kWhole);
  EXPECT_EQ(decide("bytes=-26").kind, RangeDecision::kWhole);
}

TEST(DecideRangeTest, InvalidHeaderIsTheWholeFile) {
  EXPECT_EQ(decide("asdf").kind, RangeDecision::kWhole);
  EXPECT_EQ(decide("bytes=1-2,6-10").kind, RangeDecision::kWhole);
}

TEST(DecideRangeTest, ZeroSuffixIsUnsatisfiable) {
  auto d = decide("bytes=-0");
  EXPECT_EQ(d.kind, RangeDecision::kUnsatisfiable);
  EXPECT_EQ(d.content_range, "bytes */26");
}

TEST(DecideRangeTest, StartAtOrPastTheEndIsUnsatisfiable) {
  EXPECT_EQ(decide("bytes=26").kind, RangeDecision::kUnsatisfiable);
  EXPECT_EQ(decide("bytes=26-30").kind, RangeDecision::kUnsatisfiable);
  EXPECT_EQ(decide("bytes=99999999999999999999999-").kind, RangeDecision::kUnsatisfiable);
  EXPECT_EQ(decide("bytes=26").content_range, "bytes */26");
}

TEST(DecideRangeTest, StartAfterEndIsUnsatisfiable) {
  EXPECT_EQ(decide("bytes=10-3").kind, RangeDecision::kUnsatisfiable);
  EXPECT_EQ(decide("bytes=10-9").kind, RangeDecision::kUnsatisfiable);
  EXPECT_EQ(decide("bytes=10-10").kind, RangeDecision::kPartial);
}

TEST(DecideRangeTest, EmptyFile) {
  EXPECT_EQ(decide("bytes=0-", 0).kind, RangeDecision::kUnsatisfiable);
  EXPECT_EQ(decide("bytes=-5", 0).kind, RangeDecision::kUnsatisfiable);
  EXPECT_EQ(decide("bytes=-5", 0).content_range, "bytes */0");
  EXPECT_EQ(decide("bytes=", 0).kind, RangeDecision::kWhole);
  EXPECT_EQ(decide_range(std::nullopt, 0).kind, RangeDecision::kWhole);
}

TEST(DecideRangeTest, TenGigabyteRangeOnASmallFileIsCapped) {
  auto d = decide("bytes=5-10737418239");  // 10 GiB
  EXPECT_EQ(d.kind, RangeDecision::kPartial);
  EXPECT_EQ(d.start, 5);
  EXPECT_EQ(d.end, 26);
  EXPECT_EQ(d.content_range, "bytes 5-25/26");
  EXPECT_EQ(decide("bytes=0-10737418239").kind, RangeDecision::kWhole);
  EXPECT_EQ(decide("bytes=-10737418240").kind, RangeDecision::kWhole);
}

TEST(DecideRangeTest, RangeInsideATenGigabyteFile) {
  constexpr int64_t size = 10LL << 30;
  auto d = decide("bytes=10737418000-", size);
  EXPECT_EQ(d.kind, RangeDecision::kPartial);
  EXPECT_EQ(d.length(), size - 10737418000);
  EXPECT_EQ(d.content_range, "bytes 10737418000-10737418239/10737418240");
  auto tail = decide("bytes=-100", size);
  EXPECT_EQ(tail.start, size - 100);
  EXPECT_EQ(tail.content_range, "bytes 10737418140-10737418239/10737418240");
}

TEST(DecideRangeTest, HugeEndDoesNotOverflow) {
  auto d = decide("bytes=1-99999999999999999999999");
  EXPECT_EQ(d.kind, RangeDecision::kPartial);
  EXPECT_EQ(d.end, 26);
  EXPECT_EQ(decide("bytes=-99999999999999999999999").kind, RangeDecision::kWhole);
}

}  // namespace httputil_range_test
}  // namespace tornado::httputil
