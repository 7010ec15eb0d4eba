// The spider's link extraction and URL resolution: RFC 3986 5.4's examples (every normal and
// abnormal one), and <a href> found as Python's HTMLParser finds it.
#include "links.h"

#include <gtest/gtest.h>

namespace {

using webspider::get_links;
using webspider::remove_fragment;
using webspider::urljoin;
using V = std::vector<std::string>;

constexpr const char* kBase = "http://a/b/c/d;p?q";

TEST(UrljoinTest, Rfc3986NormalExamples) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"g:h", "g:h"},           {"g", "http://a/b/c/g"},      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"}, {"/g", "http://a/g"},         {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"}, {"g?y", "http://a/b/c/g?y"}, {"#s", "http://a/b/c/d;p?q#s"},
      {"g#s", "http://a/b/c/g#s"}, {"g?y#s", "http://a/b/c/g?y#s"}, {";x", "http://a/b/c/;x"},
      {"g;x", "http://a/b/c/g;x"}, {"g;x?y#s", "http://a/b/c/g;x?y#s"}, {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},    {"./", "http://a/b/c/"},      {"..", "http://a/b/"},
      {"../", "http://a/b/"},    {"../g", "http://a/b/g"},     {"../..", "http://a/"},
      {"../../", "http://a/"},   {"../../g", "http://a/g"},
  };
  for (const auto& [ref, want] : cases) EXPECT_EQ(urljoin(kBase, ref), want) << ref;
}

TEST(UrljoinTest, Rfc3986AbnormalExamples) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"../../../g", "http://a/g"},  {"../../../../g", "http://a/g"},
      {"/./g", "http://a/g"},        {"/../g", "http://a/g"},
      {"g.", "http://a/b/c/g."},     {".g", "http://a/b/c/.g"},
      {"g..", "http://a/b/c/g.."},   {"..g", "http://a/b/c/..g"},
      {"./../g", "http://a/b/g"},    {"./g/.", "http://a/b/c/g/"},
      {"g/./h", "http://a/b/c/g/h"}, {"g/../h", "http://a/b/c/h"},
      {"g;x=1/./y", "http://a/b/c/g;x=1/y"}, {"g;x=1/../y", "http://a/b/c/y"},
      {"g?y/./x", "http://a/b/c/g?y/./x"}, {"g?y/../x", "http://a/b/c/g?y/../x"},
      {"g#s/./x", "http://a/b/c/g#s/./x"}, {"g#s/../x", "http://a/b/c/g#s/../x"},
      // The base's own scheme: relative, as Python's urljoin reads it.
      {"http:g", "http://a/b/c/g"},
  };
  for (const auto& [ref, want] : cases) EXPECT_EQ(urljoin(kBase, ref), want) << ref;
}

TEST(UrljoinTest, BaseWithoutPathAndOtherSchemes) {
  EXPECT_EQ(urljoin("http://h", "x"), "http://h/x");
  EXPECT_EQ(urljoin("http://h:8080/a/", "b?c=d"), "http://h:8080/a/b?c=d");
  EXPECT_EQ(urljoin("http://h/a", "HTTPS://other/x"), "https://other/x");
  EXPECT_EQ(urljoin("http://h/a", "mailto:someone@example.com"), "mailto:someone@example.com");
}

TEST(RemoveFragmentTest, CutsAtTheFirstHash) {
  EXPECT_EQ(remove_fragment("http://a/b#c#d"), "http://a/b");
  EXPECT_EQ(remove_fragment("http://a/b"), "http://a/b");
  EXPECT_EQ(remove_fragment("#top"), "");
}

TEST(GetLinksTest, HrefOfEachAnchorDecodedInOrder) {
  const std::string html = R"(<html><body>
    <A HREF="/one">1</A> <a class=x href='two?a=1&amp;b=2'>2</a>
    <a href=three>3</a><a name="no-href">4</a><link href="/style.css">
    <a
      href = "/four" >4</a><img src="/not-a-link.png"><a href="">empty</a>
    <a title="a > b" href="/five">5</a><a href="/&#x73;ix">6</a>
  </body></html>)";
  EXPECT_EQ(get_links(html), V({"/one", "two?a=1&b=2", "three", "/four", "/five", "/six"}));
}

TEST(GetLinksTest, CommentsScriptsAndStylesAreNotMarkup) {
  const std::string html =
      "<!-- <a href=\"/commented\"> --><script>var s = '<a href=\"/in-script\">';</script>"
      "<style>a[href=\"/in-style\"] {}</style><SCRIPT type=x><a href=/also></SCRIPT>"
      "<a href=\"/real\">x</a> 1 < 2 <3 </a><!doctype html>";
  EXPECT_EQ(get_links(html), V({"/real"}));
}

TEST(GetLinksTest, TruncatedMarkupEndsTheScanWithoutReadingPastTheEnd) {
  EXPECT_EQ(get_links("<a href=\"/ok\"><a href=\"/unterminated"), V({"/ok"}));
  EXPECT_EQ(get_links("<a href=/ok><a href"), V({"/ok"}));
  EXPECT_EQ(get_links("<!-- never closed <a href=/x>"), V());
  EXPECT_EQ(get_links("<script><a href=/x>"), V());
  EXPECT_EQ(get_links("<"), V());
  EXPECT_EQ(get_links("<a"), V());
}

}  // namespace
