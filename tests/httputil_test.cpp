// Ports tornado/test/httputil_test.py (url_concat, qs, multipart, HTTPHeaders, timestamps,
// HTTPServerRequest, start lines, cookies) and adds the limits and strictness this port
// defines (header injection guard, multipart limits, IPv6 hosts, HTTP dates).
#include "tornado/httputil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>
#include <vector>

#include "tornado/testing.h"

namespace tornado::httputil {
namespace httputil_test {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// Tornado's tests write bodies with "\n" and convert to CRLF.
std::string crlf(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n')
      out += "\r\n";
    else
      out.push_back(c);
  }
  return out;
}

// ---- url_concat ----

TEST(UrlConcatTest, NoQueryParams) {
  EXPECT_EQ(url_concat("https://localhost/path", {{"y", "y"}, {"z", "z"}}),
            "https://localhost/path?y=y&z=z");
}

TEST(UrlConcatTest, EncodeArgs) {
  EXPECT_EQ(url_concat("https://localhost/path", {{"y", "/y"}, {"z", "z"}}),
            "https://localhost/path?y=%2Fy&z=z");
}

TEST(UrlConcatTest, TrailingQuestionMark) {
  EXPECT_EQ(url_concat("https://localhost/path?", {{"y", "y"}, {"z", "z"}}),
            "https://localhost/path?y=y&z=z");
}

TEST(UrlConcatTest, QuestionMarkWithNoTrailingAmp) {
  EXPECT_EQ(url_concat("https://localhost/path?x", {{"y", "y"}, {"z", "z"}}),
            "https://localhost/path?x=&y=y&z=z");
}

TEST(UrlConcatTest, TrailingAmp) {
  EXPECT_EQ(url_concat("https://localhost/path?x&", {{"y", "y"}, {"z", "z"}}),
            "https://localhost/path?x=&y=y&z=z");
}

TEST(UrlConcatTest, MultipleParams) {
  EXPECT_EQ(url_concat("https://localhost/path?a=1&b=2", {{"y", "y"}, {"z", "z"}}),
            "https://localhost/path?a=1&b=2&y=y&z=z");
}

TEST(UrlConcatTest, NoParams) {
  EXPECT_EQ(url_concat("https://localhost/path?r=1&t=2", {}), "https://localhost/path?r=1&t=2");
}

TEST(UrlConcatTest, WithFragment) {
  EXPECT_EQ(url_concat("https://localhost/path#tab", {{"y", "y"}}),
            "https://localhost/path?y=y#tab");
  EXPECT_EQ(url_concat("https://localhost/path?a=1#tab", {{"y", "y"}}),
            "https://localhost/path?a=1&y=y#tab");
}

TEST(UrlConcatTest, MultipleSameParams) {
  EXPECT_EQ(url_concat("https://localhost/path", {{"y", "y1"}, {"y", "y2"}}),
            "https://localhost/path?y=y1&y=y2");
}

TEST(UrlConcatTest, MultipleSameQueryParams) {
  EXPECT_EQ(url_concat("https://localhost/path?r=1&r=2", {{"y", "y"}}),
            "https://localhost/path?r=1&r=2&y=y");
}

TEST(UrlConcatTest, SpacesArePlusAndExistingQueryIsReencoded) {
  EXPECT_EQ(url_concat("/search?q=a%20b", {{"page", "2 3"}}), "/search?q=a+b&page=2+3");
  EXPECT_EQ(url_concat("/x", {{"a&b", "c=d"}}), "/x?a%26b=c%3Dd");
}

// ---- query strings ----

TEST(QsParseTest, Parsing) {
  Arguments args;
  parse_qs_into("a=1&b=2&a=3", args);
  EXPECT_EQ(args["a"], (std::vector<std::string>{"1", "3"}));
  EXPECT_EQ(args["b"], (std::vector<std::string>{"2"}));
}

TEST(QsParseTest, BlankValuesKept) {
  Arguments args;
  parse_qs_into("x=&y&=z&&", args);
  EXPECT_EQ(args["x"], (std::vector<std::string>{""}));
  EXPECT_EQ(args["y"], (std::vector<std::string>{""}));
  EXPECT_EQ(args[""], (std::vector<std::string>{"z"}));
  EXPECT_EQ(args.size(), 3u);
}

TEST(QsParseTest, SemicolonIsNotASeparator) {
  // Python >= 3.10 (and so Tornado 6 on it) splits only on '&'.
  Arguments args;
  parse_qs_into("a=1;b=2", args);
  EXPECT_EQ(args["a"], (std::vector<std::string>{"1;b=2"}));
  EXPECT_EQ(args.count("b"), 0u);
}

TEST(QsParseTest, PlusAndPercentDecodedToBytes) {
  Arguments args;
  parse_qs_into("+a+=+b+&c=%C3%A9%2B&d=a==b&e=%zz%4", args);
  EXPECT_EQ(args[" a "], (std::vector<std::string>{" b "}));
  EXPECT_EQ(args["c"], (std::vector<std::string>{"\xc3\xa9+"}));
  EXPECT_EQ(args["d"], (std::vector<std::string>{"a==b"}));
  EXPECT_EQ(args["e"], (std::vector<std::string>{"%zz%4"}));  // malformed kept literally
}

TEST(QsParseTest, SplitUri) {
  EXPECT_EQ(split_uri("/a/b?x=1?y"), (std::pair<std::string, std::string>{"/a/b", "x=1?y"}));
  EXPECT_EQ(split_uri("/a"), (std::pair<std::string, std::string>{"/a", ""}));
}

// ---- multipart/form-data ----

struct Form {
  Arguments args;
  Files files;
};

Form parse_form(std::string_view boundary, std::string_view data,
                const ParseMultipartConfig& config = {}) {
  Form f;
  parse_multipart_form_data(boundary, data, f.args, f.files, config);
  return f;
}

void expect_form_error(std::string_view boundary, std::string_view data, std::string_view what,
                       const ParseMultipartConfig& config = {}) {
  Form f;
  try {
    parse_multipart_form_data(boundary, data, f.args, f.files, config);
    ADD_FAILURE() << "no HTTPInputError for: " << data;
  } catch (const HTTPInputError& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
  EXPECT_TRUE(f.files.empty());
}

const std::string kFileUpload = crlf(
    "--1234\n"
    "Content-Disposition: form-data; name=\"files\"; filename=\"ab.txt\"\n"
    "\n"
    "Foo\n"
    "--1234--");

// RFC 2046 5.1.1 caps a boundary at 70 characters; a longer one is refused at once, and a
// body of near-matches for a 70-character boundary is searched in linear time.
TEST(MultipartTest, BoundaryOver70CharactersRefusedAndSearchLinear) {
  const std::string b70(70, 'b');
  Form ok =
      parse_form(b70, "--" + b70 + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--" +
                          b70 + "--\r\n");
  EXPECT_EQ(ok.args["a"], std::vector<std::string>{"1"});
  const std::string b71(71, 'b');
  expect_form_error(
      b71,
      "--" + b71 + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--" + b71 + "--\r\n",
      "boundary longer than 70 characters");
  // The reported attack: a 30,000-character boundary against a 10 MB body.
  const std::string huge(30000, 'x');
  const std::string body(10 * 1000 * 1000, 'x');
  auto start = std::chrono::steady_clock::now();
  expect_form_error(huge, body, "boundary longer than 70 characters");
  // Near-misses everywhere for the longest boundary allowed (all '-' but the last byte).
  const std::string near = std::string(69, '-') + "z";
  expect_form_error(near, std::string(10 * 1000 * 1000, '-'), "no final boundary found");
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

TEST(MultipartFormDataTest, FileUpload) {
  Form f = parse_form("1234", kFileUpload);
  ASSERT_EQ(f.files["files"].size(), 1u);
  EXPECT_EQ(f.files["files"][0].filename, "ab.txt");
  EXPECT_EQ(f.files["files"][0].body, "Foo");
  EXPECT_EQ(f.files["files"][0].content_type, "application/unknown");
  EXPECT_TRUE(f.args.empty());
}

// A file part whose Content-Type field is present but empty keeps the empty value, as
// Tornado's parse_multipart_form_data does (checked against python3-tornado); only a missing
// field becomes application/unknown. Found by multipart_fuzzer (its invariant was wrong).
TEST(MultipartFormDataTest, FilePartWithAnEmptyContentTypeKeepsItEmpty) {
  Form f = parse_form("124", "--124\r\nContent-Disposition: form-data; name=\"a\"; "
                             "filename=\"x.txt\"\r\nContent-Type:\r\n\r\nhello\r\n--124--");
  ASSERT_EQ(f.files["a"].size(), 1u);
  EXPECT_EQ(f.files["a"][0].filename, "x.txt");
  EXPECT_EQ(f.files["a"][0].content_type, "");
  EXPECT_EQ(f.files["a"][0].body, "hello");
}

TEST(MultipartFormDataTest, UnquotedNames) {
  Form f = parse_form("1234", crlf("--1234\n"
                                   "Content-Disposition: form-data; name=files; filename=ab.txt\n"
                                   "\n"
                                   "Foo\n"
                                   "--1234--"));
  EXPECT_EQ(f.files["files"].at(0).filename, "ab.txt");
  EXPECT_EQ(f.files["files"].at(0).body, "Foo");
}

TEST(MultipartFormDataTest, SpecialFilenames) {
  for (std::string filename :
       {"a;b.txt", "a\"b.txt", "a\";b.txt", "a;\"b.txt", "a\";\";.txt", "a\\\"b.txt", "a\\b.txt"}) {
    std::string quoted;
    for (char c : filename) {
      if (c == '\\' || c == '"') quoted.push_back('\\');
      quoted.push_back(c);
    }
    Form f = parse_form("1234", crlf("--1234\n"
                                     "Content-Disposition: form-data; name=\"files\"; filename=\"" +
                                     quoted + "\"\n\nFoo\n--1234--"));
    ASSERT_EQ(f.files["files"].size(), 1u) << filename;
    EXPECT_EQ(f.files["files"][0].filename, filename);
    EXPECT_EQ(f.files["files"][0].body, "Foo");
  }
}

TEST(MultipartFormDataTest, NonAsciiFilenameRfc2231) {
  Form f = parse_form("1234", crlf("--1234\n"
                                   "Content-Disposition: form-data; name=\"files\"; "
                                   "filename=\"ab.txt\"; filename*=UTF-8''%C3%A1b.txt\n"
                                   "\n"
                                   "Foo\n"
                                   "--1234--"));
  EXPECT_EQ(f.files["files"].at(0).filename, "\u00e1b.txt");
  EXPECT_EQ(f.files["files"].at(0).body, "Foo");
}

TEST(MultipartFormDataTest, Rfc2231Latin1AndContinuations) {
  Form f = parse_form("1234", crlf("--1234\n"
                                   "Content-Disposition: form-data; name=a; "
                                   "filename*=iso-8859-1''%E1b.txt\n\nX\n"
                                   "--1234\n"
                                   "Content-Disposition: form-data; name=b; "
                                   "filename*0*=utf-8''%C3; filename*1*=%A1; filename*2=.txt\n"
                                   "\nY\n"
                                   "--1234--"));
  EXPECT_EQ(f.files["a"].at(0).filename, "\u00e1b.txt");
  EXPECT_EQ(f.files["b"].at(0).filename, "\u00e1.txt");
}

TEST(MultipartFormDataTest, RawUtf8Filename) {
  Form f = parse_form("1234", crlf("--1234\n"
                                   "Content-Disposition: form-data; name=\"f\"; "
                                   "filename=\"\xc3\xa1\xe2\x82\xac.txt\"\n\nFoo\n--1234--"));
  EXPECT_EQ(f.files["f"].at(0).filename, "\xc3\xa1\xe2\x82\xac.txt");
}

TEST(MultipartFormDataTest, BoundaryStartsAndEndsWithQuotes) {
  Form f = parse_form("\"1234\"", kFileUpload);
  EXPECT_EQ(f.files["files"].at(0).filename, "ab.txt");
  EXPECT_EQ(f.files["files"].at(0).body, "Foo");
}

TEST(MultipartFormDataTest, BoundaryStartingWithDashes) {
  Form f = parse_form("--1234", crlf("----1234\n"
                                     "Content-Disposition: form-data; name=\"a\"\n\nv\n"
                                     "----1234--"));
  EXPECT_EQ(f.args["a"], (std::vector<std::string>{"v"}));
}

TEST(MultipartFormDataTest, MissingHeaders) {
  expect_form_error("1234", crlf("--1234\n\nFoo\n--1234--"), "missing headers");
}

TEST(MultipartFormDataTest, InvalidContentDisposition) {
  expect_form_error("1234",
                    crlf("--1234\n"
                         "Content-Disposition: invalid; name=\"files\"; filename=\"ab.txt\"\n"
                         "\nFoo\n--1234--"),
                    "Invalid multipart/form-data");
}

TEST(MultipartFormDataTest, LineDoesNotEndWithCorrectLineBreak) {
  expect_form_error("1234",
                    crlf("--1234\n"
                         "Content-Disposition: form-data; name=\"files\"; filename=\"ab.txt\"\n"
                         "\nFoo--1234--"),
                    "Invalid multipart/form-data");
}

TEST(MultipartFormDataTest, BareLfLineEndingsAreRejected) {
  // Tornado (and RFC 2046) need CRLF around boundaries; a LF-only body has no part headers.
  expect_form_error("1234", "--1234\nContent-Disposition: form-data; name=\"a\"\n\nFoo\n--1234--",
                    "missing headers");
}

TEST(MultipartFormDataTest, ContentDispositionWithoutNameParameter) {
  expect_form_error("1234",
                    crlf("--1234\nContent-Disposition: form-data; filename=\"ab.txt\"\n"
                         "\nFoo\n--1234--"),
                    "missing name");
}

TEST(MultipartFormDataTest, DataAfterFinalBoundary) {
  Form f = parse_form("1234", kFileUpload + "\r\n");
  EXPECT_EQ(f.files["files"].at(0).filename, "ab.txt");
  EXPECT_EQ(f.files["files"].at(0).body, "Foo");
}

TEST(MultipartFormDataTest, MissingFinalBoundary) {
  expect_form_error("1234",
                    crlf("--1234\nContent-Disposition: form-data; name=\"a\"\n\nFoo\n--1234\n"),
                    "no final boundary");
}

TEST(MultipartFormDataTest, NoBody) { expect_form_error("1234", "", "no final boundary"); }

TEST(MultipartFormDataTest, EmptyFormHasNoParts) {
  Form f = parse_form("1234", "--1234--\r\n");
  EXPECT_TRUE(f.args.empty());
  EXPECT_TRUE(f.files.empty());
}

TEST(MultipartFormDataTest, MalformedPartHeader) {
  expect_form_error("1234",
                    crlf("--1234\nContent-Disposition form-data; name=\"a\"\n\nFoo\n--1234--"),
                    "No colon");
}

TEST(MultipartFormDataTest, FieldsFilesAndPerPartContentType) {
  Form f =
      parse_form("xYz", crlf("--xYz\n"
                             "Content-Disposition: form-data; name=\"title\"\n\n"
                             "hello\nworld\n"
                             "--xYz\n"
                             "Content-Disposition: form-data; name=\"title\"\n\n\n"
                             "--xYz\n"
                             "Content-Disposition: form-data; name=\"up\"; filename=\"a.png\"\n"
                             "Content-Type: image/png\n\n"
                             "\x89PNG\n"
                             "--xYz--\n"));
  EXPECT_EQ(f.args["title"], (std::vector<std::string>{"hello\r\nworld", ""}));
  ASSERT_EQ(f.files["up"].size(), 1u);
  EXPECT_EQ(f.files["up"][0].content_type, "image/png");
  EXPECT_EQ(f.files["up"][0].body, "\x89PNG");
}

TEST(MultipartFormDataTest, DispositionParamsWithManySemicolons) {
  // Tornado's linear-performance regression input; here we check the result (the scanner
  // is a single pass), not the time.
  std::string message = "--1234\r\nContent-Disposition: form-data; x=\"" + std::string(10000, ';') +
                        "\"; name=\"files\"; filename=\"a.txt\"\r\n\r\nFoo\r\n--1234--\r\n";
  Form f = parse_form("1234", message);
  EXPECT_EQ(f.files["files"].at(0).filename, "a.txt");
}

std::string many_parts(int n) {
  std::string body;
  for (int i = 0; i < n; ++i) {
    body +=
        "--B\r\nContent-Disposition: form-data; name=\"p" + std::to_string(i) + "\"\r\n\r\nv\r\n";
  }
  return body + "--B--\r\n";
}

TEST(MultipartFormDataTest, TooManyParts) {
  EXPECT_EQ(parse_form("B", many_parts(100)).args.size(), 100u);  // the default limit
  expect_form_error("B", many_parts(101), "too many parts");
  ParseMultipartConfig small;
  small.max_parts = 3;
  EXPECT_EQ(parse_form("B", many_parts(3), small).args.size(), 3u);
  Form f;
  EXPECT_THROW(parse_multipart_form_data("B", many_parts(4), f.args, f.files, small),
               HTTPInputError);
  EXPECT_TRUE(f.args.empty());  // rejected before any part is stored
}

TEST(MultipartFormDataTest, PartHeaderTooLarge) {
  std::string big =
      "--B\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: " + std::string(11 * 1024, 'x') +
      "\r\n\r\nv\r\n--B--";
  expect_form_error("B", big, "part header too large");
  ParseMultipartConfig larger;
  larger.max_part_header_size = 16 * 1024;
  EXPECT_EQ(parse_form("B", big, larger).args["a"], (std::vector<std::string>{"v"}));
}

TEST(MultipartFormDataTest, DisabledByConfig) {
  ParseMultipartConfig off;
  off.enabled = false;
  expect_form_error("1234", kFileUpload, "disabled", off);
}

// ---- parse_body_arguments ----

TEST(ParseBodyArgumentsTest, UrlEncoded) {
  Arguments args;
  Files files;
  parse_body_arguments("application/x-www-form-urlencoded; charset=utf-8", "a=1&b=x+y&a=", args,
                       files);
  EXPECT_EQ(args["a"], (std::vector<std::string>{"1", ""}));
  EXPECT_EQ(args["b"], (std::vector<std::string>{"x y"}));
}

TEST(ParseBodyArgumentsTest, MultipartWithQuotedBoundary) {
  Arguments args;
  Files files;
  parse_body_arguments("multipart/form-data; charset=utf-8; boundary=\"1234\"", kFileUpload, args,
                       files);
  EXPECT_EQ(files["files"].at(0).body, "Foo");
}

TEST(ParseBodyArgumentsTest, MultipartWithoutBoundary) {
  Arguments args;
  Files files;
  try {
    parse_body_arguments("multipart/form-data", kFileUpload, args, files);
    ADD_FAILURE() << "no error";
  } catch (const HTTPInputError& e) {
    EXPECT_STREQ(e.what(), "Invalid multipart/form-data: multipart boundary not found");
  }
}

TEST(ParseBodyArgumentsTest, ContentEncodingOnAFormIsRefused) {
  HTTPHeaders headers{{"Content-Encoding", "gzip"}};
  Arguments args;
  Files files;
  for (std::string_view type :
       {"application/x-www-form-urlencoded", "multipart/form-data; boundary=1234"}) {
    try {
      parse_body_arguments(type, "a=1", args, files, &headers);
      ADD_FAILURE() << "no error for " << type;
    } catch (const HTTPInputError& e) {
      EXPECT_STREQ(e.what(), "Unsupported Content-Encoding: gzip");
    }
  }
  HTTPHeaders identity{{"Content-Encoding", "identity"}};
  parse_body_arguments("application/x-www-form-urlencoded", "a=1", args, files, &identity);
  EXPECT_EQ(args["a"], (std::vector<std::string>{"1"}));
}

TEST(ParseBodyArgumentsTest, OtherContentTypesAreIgnored) {
  Arguments args;
  Files files;
  parse_body_arguments("application/json", "{\"a\": 1}", args, files);
  parse_body_arguments("", "a=1", args, files);
  EXPECT_TRUE(args.empty());
  EXPECT_TRUE(files.empty());
}

// ---- HTTPHeaders ----

TEST(HTTPHeadersTest, MultiLine) {
  // Continuation lines join the previous value with a single space.
  HTTPHeaders headers =
      HTTPHeaders::parse(crlf("Foo: bar\n"
                              " baz\n"
                              "Asdf: qwer\n"
                              "\tzxcv\n"
                              "Foo: even\n"
                              "     more\n"
                              "     lines\n"));
  EXPECT_EQ(headers.get("asdf"), "qwer zxcv");
  EXPECT_EQ(headers.get_list("asdf"), (std::vector<std::string>{"qwer zxcv"}));
  EXPECT_EQ(headers.get("Foo"), "bar baz,even more lines");
  EXPECT_EQ(headers.get_list("foo"), (std::vector<std::string>{"bar baz", "even more lines"}));
  EXPECT_EQ(headers.get_all(),
            (Pairs{{"Foo", "bar baz"}, {"Asdf", "qwer zxcv"}, {"Foo", "even more lines"}}));
  EXPECT_TRUE(headers.contains("asdf"));
  EXPECT_TRUE(headers.contains("Asdf"));
}

TEST(HTTPHeadersTest, MalformedContinuation) {
  // A first line starting with whitespace continues nothing.
  EXPECT_THROW(HTTPHeaders::parse(" Foo: bar"), HTTPInputError);
}

TEST(HTTPHeadersTest, UnicodeNewlinesAreNotSeparators) {
  // Only LF (optionally after CR) ends a line: NEL, LINE SEPARATOR and PARAGRAPH SEPARATOR,
  // in UTF-8 or latin-1, are obs-text bytes inside the value.
  for (std::string encoded : {"\xc2\x85", "\x85", "\xe2\x80\xa8", "\xe2\x80\xa9"}) {
    HTTPHeaders headers = HTTPHeaders::parse("Cookie: foo=" + encoded + "bar");
    EXPECT_EQ(headers.get_all(), (Pairs{{"Cookie", "foo=" + encoded + "bar"}}));
  }
  // The C0 separators Tornado's test also tries are control characters: RFC 9110 5.5
  // forbids them in a field value (Tornado 6.2 kept them; 6.5 refuses them too).
  for (std::string ctl : std::vector<std::string>{"\x1b", "\x1c", "\x1d", "\x1e", "\x0b", "\x7f",
                                                  std::string(1, '\0')}) {
    EXPECT_THROW(HTTPHeaders::parse("Cookie: foo=" + ctl + "bar"), HTTPInputError);
  }
}

TEST(HTTPHeadersTest, OptionalCr) {
  // CRLF and LF both end lines; the CR is not part of the value.
  HTTPHeaders headers = HTTPHeaders::parse("CRLF: crlf\r\nLF: lf\nCR: cr\r\n");
  EXPECT_EQ(headers.get_all(), (Pairs{{"CRLF", "crlf"}, {"LF", "lf"}, {"CR", "cr"}}));
  // A bare CR is not a line end and not allowed in a value (RFC 9112 2.2).
  EXPECT_THROW(HTTPHeaders::parse("CRLF: crlf\r\nLF: lf\nCR: cr\rMore: more\r\n"), HTTPInputError);
}

TEST(HTTPHeadersTest, ParseRejectsBadNamesAndMissingColon) {
  EXPECT_THROW(HTTPHeaders::parse("Foo bar\r\n"), HTTPInputError);
  EXPECT_THROW(HTTPHeaders::parse("Foo : bar\r\n"), HTTPInputError);  // RFC 9112 5.1
  EXPECT_THROW(HTTPHeaders::parse(": bar\r\n"), HTTPInputError);
  EXPECT_THROW(HTTPHeaders::parse("F(o): bar\r\n"), HTTPInputError);
}

TEST(HTTPHeadersTest, ParseTrimsOptionalWhitespaceAndSkipsBlankLines) {
  HTTPHeaders headers = HTTPHeaders::parse("A:  x y \t\r\n\r\nB:\r\nC:\tz\n");
  EXPECT_EQ(headers.get_all(), (Pairs{{"A", "x y"}, {"B", ""}, {"C", "z"}}));
}

TEST(HTTPHeadersTest, ParseLine) {
  HTTPHeaders h;
  h.parse_line("Content-Type: text/html\r\n");
  h.parse_line("\tcharset=utf-8\n");
  EXPECT_EQ(h.get("content-type"), "text/html charset=utf-8");
  EXPECT_THROW(h.parse_line("no colon here"), HTTPInputError);
}

TEST(HTTPHeadersTest, Copy) {
  HTTPHeaders h1;
  for (auto [k, v] : Pairs{{"A", "1"}, {"A", "2"}, {"B", "c"}}) h1.add(k, v);
  HTTPHeaders h2 = h1;
  HTTPHeaders h3(h1);
  for (const HTTPHeaders* h : {&h1, &h2, &h3}) {
    EXPECT_EQ(h->get_all(), (Pairs{{"A", "1"}, {"A", "2"}, {"B", "c"}}));
  }
  h2.add("A", "3");
  EXPECT_EQ(h1.get_list("A").size(), 2u);  // copies share nothing
  EXPECT_EQ(h2.get_list("A").size(), 3u);
}

// The fields' text is a buffer of the headers' own: copy- and move-assignment into headers
// that already hold fields (more or fewer bytes), self-assignment, assigning empty headers,
// and a moved-from object that is used again each leave every object with its own fields.
TEST(HTTPHeadersTest, AssignmentsAndMovesKeepEachObjectsOwnText) {
  HTTPHeaders big;
  for (int i = 0; i < 40; ++i) big.add("X-" + std::to_string(i), std::string(20, 'a' + i % 26));
  HTTPHeaders small{{"A", "1"}};
  HTTPHeaders target{{"B", "2"}, {"C", "3"}};
  target = big;  // more bytes than it had
  EXPECT_EQ(target, big);
  target = small;  // fewer
  EXPECT_EQ(target.get_all(), (Pairs{{"A", "1"}}));
  const HTTPHeaders& same = target;
  target = same;  // self
  EXPECT_EQ(target.get_all(), (Pairs{{"A", "1"}}));
  target = HTTPHeaders();
  EXPECT_TRUE(target.empty());
  target.add("D", "4");
  EXPECT_EQ(target.get_all(), (Pairs{{"D", "4"}}));

  HTTPHeaders moved(std::move(big));
  EXPECT_EQ(moved.size(), 40u);
  EXPECT_EQ(moved.get_first("X-39"), std::string(20, 'a' + 39 % 26));
  EXPECT_TRUE(big.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty, usable
  big.add("E", "5");
  EXPECT_EQ(big.get_all(), (Pairs{{"E", "5"}}));
  moved = std::move(small);
  EXPECT_EQ(moved.get_all(), (Pairs{{"A", "1"}}));
  moved.add("F", std::string(300, 'f'));  // grows past the first capacity
  EXPECT_EQ(moved.get_first("A"), "1");
  EXPECT_EQ(moved.get_first("F")->size(), 300u);
}

TEST(HTTPHeadersTest, SetdefaultLike) {
  HTTPHeaders headers;
  headers.set("foo", "bar");
  if (!headers.contains("foo")) headers.set("foo", "baz");
  EXPECT_EQ(headers.get("foo"), "bar");
  if (!headers.contains("quux")) headers.set("quux", "xyzzy");
  EXPECT_EQ(headers.get("quux"), "xyzzy");
  EXPECT_EQ(headers.get_all(), (Pairs{{"foo", "bar"}, {"quux", "xyzzy"}}));
}

TEST(HTTPHeadersTest, StringRoundTrip) {
  HTTPHeaders headers;
  headers.add("Foo", "1");
  headers.add("Foo", "2");
  headers.add("Foo", "3");
  std::string text;
  headers.write_to(text);
  EXPECT_EQ(text, "Foo: 1\r\nFoo: 2\r\nFoo: 3\r\n");
  EXPECT_EQ(HTTPHeaders::parse(text), headers);
}

TEST(HTTPHeadersTest, EachFieldKeepsItsSpellingAndLookupsIgnoreAsciiCase) {
  HTTPHeaders h;
  h.add("Set-Cookie", "a=1");
  h.add("set-cookie", "b=2");
  h.add("SET-COOKIE", "c=3");
  EXPECT_EQ(h.get("sEt-CoOkIe"), "a=1,b=2,c=3");
  EXPECT_EQ(h.get_all(),
            (Pairs{{"Set-Cookie", "a=1"}, {"set-cookie", "b=2"}, {"SET-COOKIE", "c=3"}}));
  ASSERT_TRUE(h.get_first("set-cookie").has_value());
  EXPECT_EQ(*h.get_first("set-cookie"), "a=1");
  EXPECT_EQ(h.get_first("Cookie"), std::nullopt);
  EXPECT_EQ(h.get("Cookie"), std::nullopt);
  EXPECT_EQ(h.get("Cookie", "none"), "none");
  EXPECT_TRUE(h.get_list("Cookie").empty());
  // Only ASCII letters fold: '-' and '_' are different names.
  h.add("X_A", "1");
  EXPECT_FALSE(h.contains("X-A"));
}

TEST(HTTPHeadersTest, SetReplacesInPlaceAndRemoveCounts) {
  HTTPHeaders h{{"A", "1"}, {"B", "2"}, {"a", "3"}, {"C", "4"}};
  h.set("a", "x");
  EXPECT_EQ(h.get_all(), (Pairs{{"A", "x"}, {"B", "2"}, {"C", "4"}}));
  h.add("c", "5");
  EXPECT_EQ(h.remove("C"), 2u);
  EXPECT_EQ(h.remove("C"), 0u);
  EXPECT_EQ(h.get_all(), (Pairs{{"A", "x"}, {"B", "2"}}));
  EXPECT_EQ(h.size(), 2u);
  h.clear();
  EXPECT_TRUE(h.empty());
}

// A value no longer than the one it replaces is written over it; a longer one is stored
// anew. Either way the fields read back, iterate and serialize as set.
TEST(HTTPHeadersTest, SetWithShorterThenLongerValuesReadsBackEachTime) {
  HTTPHeaders h{{"Server", "x"}, {"Content-Type", "text/html; charset=UTF-8"}};
  h.set("content-type", "text/plain");
  EXPECT_EQ(h.get_first("Content-Type"), "text/plain");
  h.set("Content-Type", "");
  EXPECT_EQ(h.get_first("Content-Type"), "");
  h.set("Content-Type", "application/json; charset=UTF-8");
  EXPECT_EQ(h.get_all(),
            (Pairs{{"Server", "x"}, {"Content-Type", "application/json; charset=UTF-8"}}));
  h.set("Server", "y");
  std::string out;
  h.write_to(out);
  EXPECT_EQ(out, "Server: y\r\nContent-Type: application/json; charset=UTF-8\r\n");
  // The same value set again, and a value taken from the headers themselves.
  h.set("Server", *h.get_first("Content-Type"));
  EXPECT_EQ(h.get_first("Server"), "application/json; charset=UTF-8");
}

TEST(HTTPHeadersTest, InvalidHeaderValuesAreRefused) {
  // The header injection guard: CR, LF, NUL, DEL and other CTLs (but not HTAB).
  HTTPHeaders h;
  for (std::string bad :
       std::vector<std::string>{"a\r\nSet-Cookie: x=1", "a\nb", "a\rb", std::string("a\0b", 3),
                                "a\x7f", "\x01", "a\x1b[31m"}) {
    EXPECT_THROW(h.add("X-Foo", bad), HTTPOutputError) << bad;
    EXPECT_THROW(h.set("X-Foo", bad), HTTPOutputError) << bad;
  }
  try {
    h.add("X-Foo", "a\r\nInjected: 1");
    FAIL();
  } catch (const HTTPOutputError& e) {
    EXPECT_NE(std::string(e.what()).find("X-Foo"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("\\x0d\\x0a"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(h.empty());
  h.add("X-Tab", "a\tb");
  h.add("X-Utf8", "caf\xc3\xa9");
  EXPECT_EQ(h.get("x-tab"), "a\tb");
  EXPECT_EQ(h.get("x-utf8"), "caf\xc3\xa9");
}

TEST(HTTPHeadersTest, InvalidHeaderNamesAreRefused) {
  HTTPHeaders h;
  for (std::string bad : {"", "X Foo", "X-Foo:", "X\r\nY", "X(", "caf\xc3\xa9"}) {
    EXPECT_THROW(h.add(bad, "v"), HTTPOutputError) << bad;
  }
  EXPECT_THROW((HTTPHeaders{{"Bad Name", "v"}}), HTTPOutputError);
  h.add_unchecked("Trusted", "v");  // the parser already validated these
  EXPECT_EQ(h.get("trusted"), "v");
}

// Names and values of every length from 0 to 70 bytes (the short copies go a word at a
// time with an overlapping last word, or byte by byte under 4) and a 70 KB value, added
// checked and unchecked, are written byte for byte.
TEST(HTTPHeadersTest, FieldsOfEveryLengthAndA70KBValueAreWrittenByteForByte) {
  const std::string letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
  auto text = [&](std::size_t n, std::size_t shift) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s.push_back(letters[(i * 7 + shift) % letters.size()]);
    return s;
  };
  HTTPHeaders checked, unchecked;
  std::string expected;
  for (std::size_t n = 0; n <= 70; ++n) {
    const std::string name = "N" + text(n, 1), value = text(n, 5) + (n % 3 == 0 ? " \x80\xff" : "");
    checked.add(name, value);
    unchecked.add_unchecked(name, value);
    expected += name + ": " + value + "\r\n";
  }
  const std::string huge = text(70 * 1024, 3) + "\t\xc3\xa9";
  checked.add("X-Huge", huge);
  unchecked.add_unchecked("X-Huge", huge);
  expected += "X-Huge: " + huge + "\r\n";
  std::string out = "before";
  checked.write_to(out);
  EXPECT_EQ(out, "before" + expected);
  out = "before";
  unchecked.write_to(out);
  EXPECT_EQ(out, "before" + expected);
}

// The header injection guard for each way in: a value with CR, LF, NUL or DEL (first, in
// the middle, last; in values of 1, 5, 12 bytes and 70 KB) and a name with a space, a CR,
// an LF, a NUL, a DEL, a colon, or none: refused by add and set when added (literal names
// and names made at run time alike), and when written when added unchecked, with nothing of
// the refused fields left in the output. HTAB and obs-text are field-value bytes.
TEST(HTTPHeadersTest, BadFieldsRefusedWhenAddedCheckedAndWhenWrittenUnchecked) {
  std::vector<std::string> bad_values;
  for (const std::string& bad : {std::string("\r"), std::string("\n"), std::string(1, '\0'),
                                std::string("\x7f"), std::string("\x1f")}) {
    for (std::size_t size : {std::size_t{1}, std::size_t{5}, std::size_t{12},
                             std::size_t{70 * 1024}}) {
      for (std::size_t at : {std::size_t{0}, size / 2, size - 1}) {
        std::string v(size, 'v');
        v.replace(at, 1, bad);
        bad_values.push_back(v);
      }
    }
  }
  for (const std::string& bad : bad_values) {
    HTTPHeaders h;
    EXPECT_THROW(h.add("X-Literal", bad), HTTPOutputError);
    EXPECT_THROW(h.add(std::string("X-Runtime"), bad), HTTPOutputError);
    EXPECT_THROW(h.set("X-Literal", bad), HTTPOutputError);
    EXPECT_TRUE(h.empty());
    for (bool literal : {true, false}) {
      HTTPHeaders u{{"Good", "1"}};
      if (literal) {
        u.add_unchecked("X-Literal", bad);
      } else {
        u.add_unchecked(std::string_view("X-Runtime"), bad);
      }
      std::string out = "kept";
      EXPECT_THROW(u.write_to(out), HTTPOutputError) << bad.size();
      EXPECT_EQ(out, "kept");
    }
  }
  const std::vector<std::string> bad_names = {"",      "X Foo", "X\rFoo", "X\nFoo",
                                              "X-Foo\r", std::string("X\0F", 3),
                                              "X\x7f",  "X-Foo:"};
  for (const std::string& bad : bad_names) {
    HTTPHeaders h;
    EXPECT_THROW(h.add(bad, "v"), HTTPOutputError) << bad;
    EXPECT_THROW(h.set(bad, "v"), HTTPOutputError) << bad;
    HTTPHeaders u;
    u.add_unchecked(bad, "v");
    std::string out;
    EXPECT_THROW(u.write_to(out), HTTPOutputError) << bad;
    EXPECT_EQ(out, "");
  }
  // The same bad names as literals: checked when compiled, refused when used.
  HTTPHeaders h;
  EXPECT_THROW(h.add("X Foo", "v"), HTTPOutputError);
  EXPECT_THROW(h.add("", "v"), HTTPOutputError);
  EXPECT_THROW(h.set("X\r\nInjected", "v"), HTTPOutputError);
  HTTPHeaders u;
  u.add_unchecked("Good", "v");
  u.add_unchecked("X\r\nInjected", "v");
  std::string out;
  EXPECT_THROW(u.write_to(out), HTTPOutputError);
  EXPECT_EQ(out, "");
  // A literal name checked at compile time does not excuse its value.
  HTTPHeaders v;
  v.add_unchecked("X-Literal", "ok\ttab \x80\xff");
  v.add_unchecked("X-Literal", "a\r\nInjected: 1");
  EXPECT_THROW(v.write_to(out), HTTPOutputError);
  EXPECT_EQ(out, "");
}

// A literal name is checked at compile time; any other name when added or written.
TEST(HTTPHeadersTest, LiteralFieldNamesAreCheckedAtCompileTime) {
  static_assert(FieldName("Server").known_token());
  static_assert(FieldName("X-Custom_1.2~").known_token());
  static_assert(!FieldName("X Foo").known_token());
  static_assert(!FieldName("").known_token());
  static_assert(!FieldName("X\r\nY").known_token());
  static_assert(!FieldName("caf\xc3\xa9").known_token());
  const std::string runtime = "Server";
  EXPECT_FALSE(FieldName(runtime).known_token());
  EXPECT_FALSE(FieldName(std::string_view(runtime)).known_token());
  EXPECT_FALSE(FieldName(runtime.c_str()).known_token());
  EXPECT_EQ(FieldName(runtime.c_str()).view(), "Server");
  EXPECT_EQ(FieldName("Server").view(), "Server");
}

TEST(HTTPHeadersTest, ManyAddsOfOneName) {
  HTTPHeaders h;
  for (int i = 0; i < 10000; ++i) h.add("X-Foo", "bar");
  EXPECT_EQ(h.get_list("x-foo").size(), 10000u);
}

// ---- format_timestamp and parse_http_date ----

TEST(FormatTimestampTest, UnixTimeIntAndTimePoint) {
  EXPECT_EQ(format_timestamp(int64_t{1359312200}), "Sun, 27 Jan 2013 18:43:20 GMT");
  auto tp = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::duration<double>(1359312200.503611)));
  EXPECT_EQ(format_timestamp(tp), "Sun, 27 Jan 2013 18:43:20 GMT");
}

TEST(FormatTimestampTest, SeveralDates) {
  EXPECT_EQ(format_timestamp(int64_t{0}), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(format_timestamp(int64_t{784111777}), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(format_timestamp(int64_t{951782400}), "Tue, 29 Feb 2000 00:00:00 GMT");
  EXPECT_EQ(format_timestamp(int64_t{-1}), "Wed, 31 Dec 1969 23:59:59 GMT");
  EXPECT_EQ(format_timestamp(int64_t{4102444799}), "Thu, 31 Dec 2099 23:59:59 GMT");
}

TEST(ParseHttpDateTest, ThreeFormats) {
  // RFC 9110 5.6.7's example, in its three forms.
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), 784111777);
  EXPECT_EQ(parse_http_date("Tue Feb 29 00:00:00 2000"), 951782400);
}

TEST(ParseHttpDateTest, RoundTripsFormatTimestamp) {
  for (int64_t t : {int64_t{0}, int64_t{1359312200}, int64_t{1700000000}, int64_t{951782400}}) {
    EXPECT_EQ(parse_http_date(format_timestamp(t)), t);
  }
}

TEST(ParseHttpDateTest, InvalidDates) {
  for (std::string_view bad :
       {"", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 25:49:37 GMT", "06 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT x", "Sunday, 06-Nov-1994 08:49:37 GMT", "yesterday"}) {
    EXPECT_EQ(parse_http_date(bad), std::nullopt) << bad;
  }
}

// ---- start lines ----

TEST(ParseRequestStartLineTest, Parses) {
  RequestStartLine line = parse_request_start_line("GET /foo HTTP/1.1");
  EXPECT_EQ(line.method, "GET");
  EXPECT_EQ(line.path, "/foo");
  EXPECT_EQ(line.version, "HTTP/1.1");
  EXPECT_EQ(parse_request_start_line("OPTIONS * HTTP/1.0").path, "*");
}

TEST(ParseRequestStartLineTest, Malformed) {
  auto expect_error = [](std::string_view line, std::string_view what, int status = 400) {
    try {
      parse_request_start_line(line);
      ADD_FAILURE() << "accepted: " << line;
    } catch (const HTTPInputError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      EXPECT_EQ(e.status(), status) << line;
    }
  };
  expect_error("GET /foo", "Malformed HTTP request line");
  expect_error("GET  /foo HTTP/1.1", "Malformed HTTP request line");
  expect_error("GET /foo HTTP/1.1 x", "Malformed HTTP request line");
  // One parser with the server: another HTTP major version is 505 there and here.
  expect_error("GET /foo HTTP/2.0", "HTTP version not supported", 505);
  expect_error("GET /foo http/1.1", "Malformed HTTP version");
  expect_error("GET /foo HTTP/1.10", "Malformed HTTP version");
  expect_error("G(T /foo HTTP/1.1", "Malformed HTTP method");
  expect_error("GET /f\x01o HTTP/1.1", "Malformed request target");
}

TEST(ParseResponseStartLineTest, Parses) {
  ResponseStartLine line = parse_response_start_line("HTTP/1.1 200 OK");
  EXPECT_EQ(line.version, "HTTP/1.1");
  EXPECT_EQ(line.code, 200);
  EXPECT_EQ(line.reason, "OK");
  EXPECT_EQ(parse_response_start_line("HTTP/1.0 404 Not Found").reason, "Not Found");
  EXPECT_EQ(parse_response_start_line("HTTP/1.1 204 ").reason, "");
  EXPECT_EQ(parse_response_start_line("HTTP/1.1 204").code, 204);
}

TEST(ParseResponseStartLineTest, Malformed) {
  for (std::string_view bad :
       {"", "HTTP/1.1", "HTTP/2 200 OK", "HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "HTTP/1.1 abc OK",
        "HTTP/1.1 200OK", "ICY 200 OK",
        // The reason phrase is checked like a field value, as on the wire.
        "HTTP/1.1 200 O\x01K", "HTTP/1.1 200 O\rK"}) {
    EXPECT_THROW(parse_response_start_line(bad), HTTPInputError) << bad;
  }
}

// ---- split_host_and_port, reason_phrase, basic auth ----

TEST(SplitHostAndPortTest, Cases) {
  using R = std::pair<std::string, std::optional<int>>;
  EXPECT_EQ(split_host_and_port("example.com"), (R{"example.com", std::nullopt}));
  EXPECT_EQ(split_host_and_port("example.com:8080"), (R{"example.com", 8080}));
  EXPECT_EQ(split_host_and_port("[::1]:80"), (R{"::1", 80}));
  EXPECT_EQ(split_host_and_port("[::1]"), (R{"::1", std::nullopt}));
  EXPECT_EQ(split_host_and_port("::1"), (R{"::1", std::nullopt}));
  EXPECT_EQ(split_host_and_port("example.com:"), (R{"example.com:", std::nullopt}));
  EXPECT_EQ(split_host_and_port("example.com:http"), (R{"example.com:http", std::nullopt}));
  EXPECT_EQ(split_host_and_port("example.com:99999"), (R{"example.com:99999", std::nullopt}));
  EXPECT_EQ(split_host_and_port(""), (R{"", std::nullopt}));
  EXPECT_EQ(split_host_and_port(":80"), (R{":80", std::nullopt}));  // no host: not a port
}

// The port is found from the end of the host (1 to 5 digits after a colon, none before it
// outside brackets): every string of up to 7 bytes over the bytes that matter splits as
// the rule written the plain way (the last colon, then a check for another) splits it.
TEST(SplitHostAndPortTest, PortFromTheEndAgreesWithTheLastColonRule) {
  using R = std::pair<std::string, std::optional<int>>;
  auto by_last_colon = [](const std::string& s) -> R {
    auto port_of = [](std::string_view d) -> std::optional<int> {
      if (d.empty() || d.size() > 5) return std::nullopt;
      for (char c : d) {
        if (c < '0' || c > '9') return std::nullopt;
      }
      int p = std::stoi(std::string(d));
      return p <= 65535 ? std::optional<int>(p) : std::nullopt;
    };
    if (!s.empty() && s[0] == '[') {
      const std::size_t close = s.find(']');
      if (close == std::string::npos) return {s, std::nullopt};
      if (close + 1 == s.size()) return {s.substr(1, close - 1), std::nullopt};
      if (s[close + 1] == ':') {
        if (auto p = port_of(std::string_view(s).substr(close + 2))) {
          return {s.substr(1, close - 1), p};
        }
      }
      return {s, std::nullopt};
    }
    const std::size_t colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0 || s.find(':') != colon) return {s, std::nullopt};
    if (auto p = port_of(std::string_view(s).substr(colon + 1))) return {s.substr(0, colon), p};
    return {s, std::nullopt};
  };
  const std::string alphabet = "a:1[]09";
  std::size_t checked = 0;
  for (std::size_t len = 0; len <= 7; ++len) {
    std::vector<std::size_t> digit(len, 0);
    while (true) {
      std::string s;
      for (std::size_t d : digit) s.push_back(alphabet[d]);
      ASSERT_EQ(split_host_and_port(s), by_last_colon(s)) << s;
      ++checked;
      std::size_t i = 0;
      while (i < len && ++digit[i] == alphabet.size()) digit[i++] = 0;
      if (i == len) break;
    }
  }
  EXPECT_GT(checked, 900000u);
  EXPECT_EQ(split_host_and_port("127.0.0.1:8080"), (R{"127.0.0.1", 8080}));
  EXPECT_EQ(split_host_and_port("h:65535"), (R{"h", 65535}));
  EXPECT_EQ(split_host_and_port("h:65536"), (R{"h:65536", std::nullopt}));
  EXPECT_EQ(split_host_and_port("h:123456"), (R{"h:123456", std::nullopt}));
  EXPECT_EQ(split_host_and_port("a:b:80"), (R{"a:b:80", std::nullopt}));
}

TEST(ReasonPhraseTest, MatchesPythonsTable) {
  EXPECT_EQ(reason_phrase(200), "OK");
  EXPECT_EQ(reason_phrase(404), "Not Found");
  EXPECT_EQ(reason_phrase(413), "Request Entity Too Large");
  EXPECT_EQ(reason_phrase(418), "I'm a Teapot");
  EXPECT_EQ(reason_phrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(reason_phrase(511), "Network Authentication Required");
  EXPECT_EQ(reason_phrase(299), "Unknown");
  EXPECT_EQ(reason_phrase(-1), "Unknown");
}

TEST(EncodeBasicAuthTest, Rfc7617Example) {
  EXPECT_EQ(encode_basic_auth("Aladdin", "open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
  EXPECT_EQ(encode_basic_auth("", ""), "Og==");
}

// ---- HTTPServerRequest ----

TEST(HTTPServerRequestTest, DefaultConstructor) {
  HTTPServerRequest request("GET", "/");
  EXPECT_EQ(request.path, "/");
  EXPECT_EQ(request.query, "");
  EXPECT_EQ(request.version, "HTTP/1.0");
  EXPECT_TRUE(request.body.empty());
  EXPECT_EQ(request.host, "127.0.0.1");
  EXPECT_EQ(request.host_name, "127.0.0.1");
  EXPECT_EQ(request.protocol, "http");
  EXPECT_EQ(request.full_url(), "http://127.0.0.1/");
}

TEST(HTTPServerRequestTest, UriQueryAndArguments) {
  HTTPServerRequest request("GET", "/p/a?x=1&y=a+b&x=2", "HTTP/1.1",
                            HTTPHeaders{{"Host", "Example.COM:8888"}});
  EXPECT_EQ(request.path, "/p/a");
  EXPECT_EQ(request.query, "x=1&y=a+b&x=2");
  EXPECT_EQ(request.query_arguments["x"], (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(request.arguments["y"], (std::vector<std::string>{"a b"}));
  EXPECT_TRUE(request.body_arguments.empty());
  EXPECT_EQ(request.host, "Example.COM:8888");
  EXPECT_EQ(request.host_name, "example.com");
  EXPECT_EQ(request.full_url(), "http://Example.COM:8888/p/a?x=1&y=a+b&x=2");
}

// host_name is the host in lower case, A-Z only (folded eight bytes at a time, then byte by
// byte): every byte from 0x01 to 0xff in a host, at each offset of the eight-byte words,
// comes out as a byte-by-byte fold gives it (obs-text and the bytes next to 'A' and 'Z'
// untouched).
TEST(HTTPServerRequestTest, HostNameFoldsOnlyAsciiUpperCase) {
  for (int shift = 0; shift < 9; ++shift) {
    std::string host(shift, 'Q');
    for (int c = 1; c < 256; ++c) {
      if (c != ':' && c != '[') host.push_back(static_cast<char>(c));
    }
    std::string expected = host;
    for (char& c : expected) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    HTTPServerRequest request("GET", "/", "HTTP/1.1", HTTPHeaders{}, "", host);
    EXPECT_EQ(request.host_name, expected) << shift;
  }
}

TEST(HTTPServerRequestTest, HostArgumentAndIpv6Host) {
  HTTPServerRequest a("GET", "/", "HTTP/1.1", HTTPHeaders{{"Host", "ignored"}}, "", "given:1");
  EXPECT_EQ(a.host, "given:1");
  EXPECT_EQ(a.host_name, "given");
  HTTPServerRequest b("GET", "/", "HTTP/1.1", HTTPHeaders{{"Host", "[::1]:8080"}});
  EXPECT_EQ(b.host_name, "::1");
}

// host_name drops a port and the brackets of an IPv6 literal, and keeps whatever is not a
// port (each form below: what split_host_and_port gives, in lower case).
TEST(HTTPServerRequestTest, HostNameIsTheHostWithoutPortInLowerCase) {
  const std::pair<std::string, std::string> cases[] = {
      {"Example.COM", "example.com"},
      {"Example.COM:8080", "example.com"},
      {"127.0.0.1", "127.0.0.1"},
      {"127.0.0.1:80", "127.0.0.1"},
      {"[::1]", "::1"},
      {"[::1]:8888", "::1"},
      {"[::1", "[::1"},
      {"::1", "::1"},
      {"h:", "h:"},
      {"H:99999", "h:99999"},
      {"a:b:80", "a:b:80"},
      {"LOCALHOST:1", "localhost"},
  };
  for (const auto& [host, expected] : cases) {
    HTTPServerRequest request("GET", "/", "HTTP/1.1", HTTPHeaders{{"Host", host}});
    EXPECT_EQ(request.host, host);
    EXPECT_EQ(request.host_name, expected) << host;
  }
}

// A server's connection passes the Host field it found as RequestLineView::host: the request
// takes it as the Host field's value (an empty one gives 127.0.0.1, as an empty field does);
// without it, the request looks in the headers.
TEST(HTTPServerRequestTest, HostFromTheLineViewElseFromTheHeaders) {
  RequestLineView line{"GET", "/p?q=1", "HTTP/1.1"};
  line.host = "Line.Example:1";
  HTTPServerRequest given(line, HTTPHeaders{{"Host", "headers.example"}}, nullptr);
  EXPECT_EQ(given.host, "Line.Example:1");
  EXPECT_EQ(given.host_name, "line.example");
  EXPECT_EQ(given.path, "/p");
  EXPECT_EQ(given.query, "q=1");
  line.host = "";
  EXPECT_EQ(HTTPServerRequest(line, HTTPHeaders{{"Host", "headers.example"}}, nullptr).host,
            "127.0.0.1");
  line.host = std::nullopt;
  EXPECT_EQ(HTTPServerRequest(line, HTTPHeaders{{"Host", "headers.example"}}, nullptr).host,
            "headers.example");
  EXPECT_EQ(HTTPServerRequest(line, HTTPHeaders{}, nullptr).host, "127.0.0.1");
}

// The request's strings are made from the line's views with each short length spelled out as
// a constant: every length from 0 to 40 (across the 15-byte short-string buffer) comes out
// whole, for each member made that way.
TEST(HTTPServerRequestTest, StringMembersEqualTheirViewsAtEveryLength) {
  for (std::size_t n = 0; n <= 40; ++n) {
    std::string text;
    for (std::size_t i = 0; i < n; ++i) text.push_back(static_cast<char>('a' + i % 26));
    const std::string target = "/" + text + "?" + text;
    RequestLineView line{text, target, text};
    line.host = text;
    HTTPServerRequest request(line, HTTPHeaders{}, nullptr);
    EXPECT_EQ(request.method, text) << n;
    EXPECT_EQ(request.uri, target) << n;
    EXPECT_EQ(request.version, text) << n;
    EXPECT_EQ(request.host, n == 0 ? "127.0.0.1" : text) << n;
    EXPECT_EQ(request.host_name, n == 0 ? "127.0.0.1" : text) << n;
    EXPECT_EQ(request.path, "/" + text) << n;
    EXPECT_EQ(request.query, text) << n;
  }
}

// Only context() matters to HTTPServerRequest; the writing side is never called here.
class FakeConnection : public HTTPConnection {
 public:
  explicit FakeConnection(HTTPConnectionContext context) : context_(std::move(context)) {}
  WriteAwaiter write_headers(const StartLine&, const HTTPHeaders&, std::string_view) override {
    throw std::logic_error("not used");
  }
  WriteAwaiter write(std::string_view) override { throw std::logic_error("not used"); }
  WriteAwaiter finish() override { throw std::logic_error("not used"); }
  void set_close_callback(std::function<void()>) override {}
  void set_max_body_size(std::size_t) override {}
  void set_body_timeout(Duration) override {}
  const HTTPConnectionContext& context() const override { return context_; }

 private:
  HTTPConnectionContext context_;
};

TEST(HTTPServerRequestTest, RemoteIpAndProtocolFromTheConnection) {
  FakeConnection conn({"10.0.0.7", "https"});
  HTTPServerRequest request("GET", "/x", "HTTP/1.1", HTTPHeaders{{"Host", "h"}}, "", "", &conn);
  EXPECT_EQ(request.remote_ip, "10.0.0.7");
  EXPECT_EQ(request.protocol, "https");
  EXPECT_EQ(request.full_url(), "https://h/x");
  EXPECT_EQ(request.connection, &conn);
}

TEST(HTTPServerRequestTest, RequestTime) {
  HTTPServerRequest request("GET", "/");
  request.finish_time = request.start_time + std::chrono::milliseconds(1500);
  EXPECT_DOUBLE_EQ(request.request_time(), 1.5);
  request.finish_time.reset();
  EXPECT_GE(request.request_time(), 0.0);
}

TEST(HTTPServerRequestTest, Cookies) {
  HTTPServerRequest request(
      "GET", "/", "HTTP/1.1",
      HTTPHeaders{{"Cookie", "a=1; b=\"x y\"; path=/; bad key=2; =nokey; c=3"}, {"Cookie", "d=4"}});
  // parse_cookie keeps everything; cookies() drops what Python's SimpleCookie refuses.
  EXPECT_EQ(request.cookies(), (std::map<std::string, std::string, std::less<>>{
                                   {"a", "1"}, {"b", "x y"}, {"c", "3"}, {"d", "4"}}));
  HTTPServerRequest none("GET", "/");
  EXPECT_TRUE(none.cookies().empty());
}

TEST(HTTPServerRequestTest, ParseBodyMergesIntoArguments) {
  HTTPServerRequest request("POST", "/?a=q", "HTTP/1.1",
                            HTTPHeaders{{"Content-Type", "application/x-www-form-urlencoded"}},
                            "a=b&c=d");
  request.parse_body();
  EXPECT_EQ(request.arguments["a"], (std::vector<std::string>{"q", "b"}));
  EXPECT_EQ(request.body_arguments["a"], (std::vector<std::string>{"b"}));
  EXPECT_EQ(request.query_arguments["a"], (std::vector<std::string>{"q"}));
  EXPECT_EQ(request.arguments["c"], (std::vector<std::string>{"d"}));
}

TEST(HTTPServerRequestTest, ParseBodyLogsMalformedMultipartAndGoesOn) {
  HTTPServerRequest request("POST", "/?a=q", "HTTP/1.1",
                            HTTPHeaders{{"Content-Type", "multipart/form-data; boundary=1234"}},
                            crlf("--1234\nContent-Disposition: form-data; name=\"a\"\n\nFoo\n"));
  {
    testing::ExpectLog expect(gen_log(), "Invalid multipart/form-data: no final boundary");
    request.parse_body();
  }
  EXPECT_TRUE(request.files.empty());
  EXPECT_EQ(request.arguments["a"], (std::vector<std::string>{"q"}));
}

TEST(HTTPServerRequestTest, ParseBodyHonoursMultipartConfig) {
  HTTPServerRequest request("POST", "/", "HTTP/1.1",
                            HTTPHeaders{{"Content-Type", "multipart/form-data; boundary=B"}},
                            many_parts(5));
  ParseMultipartConfig config;
  config.max_parts = 2;
  {
    testing::ExpectLog expect(gen_log(), "too many parts");
    request.parse_body(config);
  }
  EXPECT_TRUE(request.body_arguments.empty());
}

// ---- parse_cookie ----

using CookieMap = std::map<std::string, std::string, std::less<>>;

TEST(ParseCookieTest, PythonCookies) {
  EXPECT_EQ(parse_cookie("chips=ahoy; vienna=finger"),
            (CookieMap{{"chips", "ahoy"}, {"vienna", "finger"}}));
  // Every semicolon is a delimiter, even inside quotes.
  EXPECT_EQ(
      parse_cookie(R"(keebler="E=mc2; L=\"Loves\"; fudge=\012;")"),
      (CookieMap{{"keebler", "\"E=mc2"}, {"L", R"(\"Loves\")"}, {"fudge", R"(\012)"}, {"", "\""}}));
  // Illegal cookies that have an '=' char in an unquoted value.
  EXPECT_EQ(parse_cookie("keebler=E=mc2"), (CookieMap{{"keebler", "E=mc2"}}));
  // Cookies with ':' in their name.
  EXPECT_EQ(parse_cookie("key:term=value:term"), (CookieMap{{"key:term", "value:term"}}));
  // Cookies with '[' and ']'.
  EXPECT_EQ(parse_cookie("a=b; c=[; d=r; f=h"),
            (CookieMap{{"a", "b"}, {"c", "["}, {"d", "r"}, {"f", "h"}}));
}

TEST(ParseCookieTest, EdgeCases) {
  EXPECT_EQ(parse_cookie("a=b; Domain=example.com"),
            (CookieMap{{"a", "b"}, {"Domain", "example.com"}}));
  // The last cookie of a name wins.
  EXPECT_EQ(parse_cookie("a=b; h=i; a=c"), (CookieMap{{"a", "c"}, {"h", "i"}}));
}

TEST(ParseCookieTest, InvalidCookies) {
  // Chunks without '=' are values with an empty name.
  EXPECT_EQ(parse_cookie("abc=def; unnamed; django_language=en").count("django_language"), 1u);
  EXPECT_EQ(parse_cookie("a=b; \"; c=d"), (CookieMap{{"a", "b"}, {"", "\""}, {"c", "d"}}));
  EXPECT_EQ(parse_cookie("a b c=d e = f; gh=i"), (CookieMap{{"a b c", "d e = f"}, {"gh", "i"}}));
  EXPECT_EQ(parse_cookie("a   b,c<>@:/[]?{}=d  \"  =e,f g"),
            (CookieMap{{"a   b,c<>@:/[]?{}", "d  \"  =e,f g"}}));
  EXPECT_EQ(parse_cookie("saint=Andr\xc3\xa9 Bessette"),
            (CookieMap{{"saint", "Andr\xc3\xa9 Bessette"}}));
  EXPECT_EQ(parse_cookie("  =  b  ;  ;  =  ;   c  =  ;  "), (CookieMap{{"", "b"}, {"c", ""}}));
  // A value ending in a UTF-8 byte that latin-1 calls NBSP is not trimmed.
  EXPECT_EQ(parse_cookie("w=voil\xc3\xa0"), (CookieMap{{"w", "voil\xc3\xa0"}}));
}

TEST(ParseCookieTest, Unquote) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"(a="b=\"")", "b=\""},       {R"(a="b=\\")", "b=\\"},       {R"(a="b=\=")", "b=="},
      {R"(a="b=\n")", "b=n"},        {R"(a="b=\042")", "b=\""},     {R"(a="b=\134")", "b=\\"},
      {R"(a="b=\377")", "b=\xff"},   {R"(a="b=\400")", "b=400"},    {R"(a="b=\42")", "b=42"},
      {R"(a="b=\\042")", "b=\\042"}, {R"(a="b=\\134")", "b=\\134"}, {R"(a="b=\\\"")", "b=\\\""},
      {R"(a="b=\\\042")", "b=\\\""}, {R"(a="b=\134\"")", "b=\\\""}, {R"(a="b=\134\042")", "b=\\\""},
  };
  for (const auto& [encoded, decoded] : cases) {
    EXPECT_EQ(parse_cookie(encoded)["a"], decoded) << encoded;
  }
}

TEST(ParseCookieTest, UnquoteLarge) {
  constexpr std::size_t n = 100000;
  for (std::string encoded : {R"(\\)", R"(\134)"}) {
    std::string data = "a=\"b=";
    for (std::size_t i = 0; i < n; ++i) data += encoded;
    data += "\"";
    std::string value = parse_cookie(data)["a"];
    EXPECT_EQ(value.size(), n + 2);
    EXPECT_EQ(value.substr(0, 3), "b=\\");
    EXPECT_EQ(value.substr(value.size() - 3), "\\\\\\");
  }
}

// The headers keep every name and value in one string: a view taken from them and handed
// back while they grow must not dangle (ASan checks it in the sanitizer run).
TEST(HTTPHeadersTest, AddingAValueViewedFromTheSameHeadersCopiesItFirst) {
  HTTPHeaders h;
  h.add("A", std::string(40, 'a'));
  for (int i = 0; i < 50; ++i) h.add("B", *h.get_first("A"));  // the text grows meanwhile
  EXPECT_EQ(h.get_list("B"), std::vector<std::string>(50, std::string(40, 'a')));
  h.set("A", *h.get_first("B"));
  EXPECT_EQ(h.get_first("A"), std::string(40, 'a'));
}

// set() on the same name a million times (a handler in a loop) leaves the text bounded.
TEST(HTTPHeadersTest, SettingOneHeaderAMillionTimesKeepsItsStorageBounded) {
  HTTPHeaders h;
  h.add("Keep", "this");
  for (int i = 0; i < 1'000'000; ++i) h.set("X-Count", std::to_string(i));
  EXPECT_EQ(h.get_first("X-Count"), "999999");
  EXPECT_EQ(h.get_first("Keep"), "this");
  std::string written;
  h.write_to(written);
  EXPECT_EQ(written, "Keep: this\r\nX-Count: 999999\r\n");
  EXPECT_LT(h.storage_bytes(), 1024u);
}

// hostile14: the fields' text is a hand-written buffer (HTTPHeaders::Text). Random
// sequences of add, set, remove, clear, copies, moves and self-assignment, with names and
// values that are often views into the same headers' own text (which moves when it grows
// or is compacted), must keep exactly what a plain list of pairs keeps; ASan checks every
// byte read in the sanitizer run.
TEST(HTTPHeadersTest, RandomEditsWithAliasedViewsCopiesAndClearsMatchAListOfPairs) {
  std::uint32_t seed = 2024;
  auto next = [&seed] {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 8) & 0xffffff;
  };
  const std::vector<std::string> names = {"A", "a", "Content-Type", "CONTENT-TYPE", "X-Long-Header-Name-Over-16", "Set-Cookie"};
  auto iequal = [](std::string_view x, std::string_view y) {
    return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), [](char p, char q) {
             return std::tolower(static_cast<unsigned char>(p)) == std::tolower(static_cast<unsigned char>(q));
           });
  };
  HTTPHeaders h, spare;
  Pairs model, spare_model;
  for (int round = 0; round < 200000; ++round) {
    // A name and a value: fresh, or views into h's own text (a field's name or value).
    std::string fresh_name = names[next() % names.size()];
    std::string fresh_value(next() % 3 == 0 ? next() % 300 : next() % 12, static_cast<char>('a' + next() % 26));
    std::string_view name = fresh_name, value = fresh_value;
    if (!h.empty() && next() % 2 == 0) {
      const auto [n, v] = h.field(next() % h.size());
      value = next() % 2 == 0 ? v : n;
      if (next() % 3 == 0) name = n;
    }
    const std::string name_copy(name), value_copy(value);  // what the model gets
    switch (next() % 16) {
      case 0: case 1: case 2: case 3: case 4: case 5:
        h.add(name, value);
        model.emplace_back(name_copy, value_copy);
        break;
      case 6: case 7: case 8: case 9: {
        h.set(name, value);
        auto first = std::find_if(model.begin(), model.end(), [&](const auto& p) { return iequal(p.first, name_copy); });
        if (first == model.end()) {
          model.emplace_back(name_copy, value_copy);
        } else {
          first->second = value_copy;
          const std::size_t at = static_cast<std::size_t>(first - model.begin());
          std::size_t i = 0;
          std::erase_if(model, [&](const auto& p) { return i++ > at && iequal(p.first, name_copy); });
        }
        break;
      }
      case 10: {
        const std::size_t removed = h.remove(name);
        EXPECT_EQ(removed, std::erase_if(model, [&](const auto& p) { return iequal(p.first, name_copy); }));
        break;
      }
      case 11:
        if (next() % 8 == 0) {
          h.clear();
          model.clear();
        }
        break;
      case 12: {
        HTTPHeaders& self = h;
        h = self;  // self-assignment
        break;
      }
      case 13:
        spare = h;  // copy, kept and edited apart
        spare_model = model;
        break;
      case 14:
        if (next() % 2 == 0) {
          h = std::move(spare);
          model = spare_model;
          spare = HTTPHeaders();
          spare_model.clear();
        } else {
          HTTPHeaders copied(h);
          h = std::move(copied);
        }
        break;
      default:
        if (!spare.empty()) spare.add("Z", *spare.get_first(spare.field(0).first));
        if (!spare.empty()) spare_model.emplace_back("Z", [&] {
          for (const auto& p : spare_model) if (iequal(p.first, spare.field(0).first)) return p.second;
          return std::string();
        }());
        break;
    }
    // Field by field, without a copy of the list each round (a quarter of this case's time
    // under ASan); get_all() shows the difference when there is one, and is checked every 97
    // rounds.
    bool same = h.size() == model.size();
    for (std::size_t i = 0; same && i < model.size(); ++i) {
      same = h.field(i).first == model[i].first && h.field(i).second == model[i].second;
    }
    if (!same) {
      ASSERT_EQ(h.get_all(), model) << "round " << round;
      FAIL() << "round " << round << ": field() and get_all() disagree";
    }
    // Every lookup agrees with the list, after any edit.
    for (std::string_view probe : {"A", "a", "Content-Type", "content-type", "CONTENT-TYPE",
                                   "X-Long-Header-Name-Over-16", "Set-Cookie", "Absent", "Content-Typf"}) {
      const auto in_model = std::find_if(model.begin(), model.end(), [&](const auto& p) { return iequal(p.first, probe); });
      const auto got = h.get_first(probe);
      ASSERT_EQ(got.has_value(), in_model != model.end()) << "round " << round << " " << probe;
      if (got) {
        ASSERT_EQ(*got, in_model->second) << "round " << round << " " << probe;
      }
    }
    if (round % 97 == 0) {
      ASSERT_EQ(h.get_all(), model) << "round " << round;
      ASSERT_EQ(spare.get_all(), spare_model) << "round " << round;
      std::string wire, expected;
      h.write_to(wire);
      for (const auto& [n, v] : model) expected += n + ": " + v + "\r\n";
      ASSERT_EQ(wire, expected) << "round " << round;
    }
  }
  EXPECT_LT(h.storage_bytes(), 1u << 20);
  // Growth across many fields, each value a view of an earlier one (the text moves many
  // times), then compaction after many set() calls on the same names.
  h.clear();
  model.clear();
  h.add("F0", std::string(100, 'x'));
  model.emplace_back("F0", std::string(100, 'x'));
  for (int i = 1; i < 5000; ++i) {
    const std::size_t from = next() % h.size();
    const std::string name = "F" + std::to_string(i);
    h.add(name, h.field(from).second);
    model.emplace_back(name, model[from].second);
  }
  ASSERT_EQ(h.get_all(), model);
  for (int i = 0; i < 20000; ++i) {
    const std::size_t at = next() % h.size();
    h.set(h.field(at).first, h.field(next() % h.size()).second);  // both views into h
  }
  EXPECT_EQ(h.size(), 5000u);
  EXPECT_LT(h.storage_bytes(), 4 * 5000u * 110u);
}

}  // namespace httputil_test
}  // namespace tornado::httputil
