// escape.h attacked: json_decode of a request body an attacker wrote.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tornado/escape.h"

namespace escape_hostile_test {

using namespace tornado;

namespace {

// A handler decoding its body (Tornado's json_decode(self.request.body)) then copying,
// printing or destroying the value must not overflow the stack on a megabyte of '['.
// Python's json.loads refuses such nesting (RecursionError); so does json_decode.
TEST(EscapeHostileTest, JsonDecodeRefusesNestingDeeperThanItsLimit) {
  for (char open : {'[', '{'}) {
    std::string deep;
    if (open == '[') {
      deep = std::string(1'000'000, '[') + std::string(1'000'000, ']');
    } else {
      for (int i = 0; i < 300'000; ++i) deep += "{\"a\":";
      deep += "1" + std::string(300'000, '}');
    }
    try {
      nlohmann::json value = escape::json_decode(deep);
      nlohmann::json copy = value;  // recursive in nlohmann::json
      std::string text = copy.dump();
      ADD_FAILURE() << "accepted, " << text.size() << " bytes";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("deep"), std::string::npos) << e.what();
    }
  }
}

TEST(EscapeHostileTest, JsonDecodeDepthLimitCountsOnlyRealBrackets) {
  // Brackets inside strings (escaped quotes included) are not nesting.
  std::string text = "[\"" + std::string(5000, '[') + "\\\"[[[\", {\"k]\": \"{{{\"}]";
  auto value = escape::json_decode(text);
  ASSERT_TRUE(value.is_array());
  EXPECT_EQ(value[0].get<std::string>().size(), 5004u);
  // Exactly at the limit passes, one more is refused.
  std::string at_limit =
      std::string(escape::kMaxJsonDepth, '[') + std::string(escape::kMaxJsonDepth, ']');
  EXPECT_NO_THROW(escape::json_decode(at_limit));
  EXPECT_THROW(escape::json_decode("[" + at_limit + "]"), std::invalid_argument);
  EXPECT_NO_THROW(escape::json_decode("[" + at_limit + "]", escape::kMaxJsonDepth + 1));
}

}  // namespace

}  // namespace escape_hostile_test
