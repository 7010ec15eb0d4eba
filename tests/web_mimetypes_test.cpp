// Media types by extension: Python's mimetypes.guess_type rules (suffix expansion, coding
// suffixes, case), mime.types parsing, and the Content-Type StaticFileHandler sends.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "tornado/web/mimetypes.h"

namespace tornado::web {
namespace web_mimetypes_test {

using Guess = MimeTypes::Guess;
const std::optional<std::string> none;

TEST(MimeTypesTest, BuiltinTableKnowsTheCommonWebTypes) {
  MimeTypes types;
  EXPECT_EQ(types.guess_type("index.html").type, "text/html");
  EXPECT_EQ(types.guess_type("app.js").type, "text/javascript");
  EXPECT_EQ(types.guess_type("style.css").type, "text/css");
  EXPECT_EQ(types.guess_type("data.json").type, "application/json");
  EXPECT_EQ(types.guess_type("logo.svg").type, "image/svg+xml");
  EXPECT_EQ(types.guess_type("logo.png").type, "image/png");
  EXPECT_EQ(types.guess_type("font.woff2").type, "font/woff2");
  EXPECT_EQ(types.guess_type("robots.txt").type, "text/plain");
  EXPECT_EQ(types.guess_type("favicon.ico").type, "image/vnd.microsoft.icon");
}

TEST(MimeTypesTest, ExtensionIsMatchedCaseInsensitively) {
  MimeTypes types;
  EXPECT_EQ(types.guess_type("INDEX.HTML").type, "text/html");
  EXPECT_EQ(types.guess_type("a.Js").type, "text/javascript");
}

TEST(MimeTypesTest, OnlyTheLastPathComponentCounts) {
  MimeTypes types;
  EXPECT_EQ(types.guess_type("dir.html/README"), (Guess{none, none}));
  EXPECT_EQ(types.guess_type("/srv/static/css/site.css").type, "text/css");
  EXPECT_EQ(types.guess_type(".bashrc"), (Guess{none, none}));
  EXPECT_EQ(types.guess_type("dir/.html"), (Guess{none, none}));
  EXPECT_EQ(types.guess_type("..html"), (Guess{none, none}));
  EXPECT_EQ(types.guess_type("a.").type, none);
  EXPECT_EQ(types.guess_type("noext"), (Guess{none, none}));
}

TEST(MimeTypesTest, CodingSuffixIsSplitOff) {
  MimeTypes types;
  EXPECT_EQ(types.guess_type("a.tar.gz"), (Guess{"application/x-tar", "gzip"}));
  EXPECT_EQ(types.guess_type("a.gz"), (Guess{none, "gzip"}));
  EXPECT_EQ(types.guess_type("a.txt.bz2"), (Guess{"text/plain", "bzip2"}));
  EXPECT_EQ(types.guess_type("a.xz"), (Guess{none, "xz"}));
  EXPECT_EQ(types.guess_type("a.css.br"), (Guess{"text/css", "br"}));
  EXPECT_EQ(types.guess_type("a.Z"), (Guess{none, "compress"}));
  // Python's encodings_map is case-sensitive: ".GZ" is an unknown extension.
  EXPECT_EQ(types.guess_type("a.GZ"), (Guess{none, none}));
}

TEST(MimeTypesTest, ShortSuffixesExpand) {
  MimeTypes types;
  EXPECT_EQ(types.guess_type("a.tgz"), (Guess{"application/x-tar", "gzip"}));
  EXPECT_EQ(types.guess_type("a.TGZ"), (Guess{"application/x-tar", "gzip"}));
  EXPECT_EQ(types.guess_type("a.svgz"), (Guess{"image/svg+xml", "gzip"}));
  EXPECT_EQ(types.guess_type("a.tbz2"), (Guess{"application/x-tar", "bzip2"}));
}

TEST(MimeTypesTest, ReadTextParsesMimeTypesLinesAndLaterLinesWin) {
  MimeTypes types;
  types.read_text(
      "# comment line\n"
      "application/x-demo\tdemo   dmo # trailing comment ext\n"
      "\n"
      "   \t \n"
      "text/x-lonely\n"
      "text/x-override html\r\n"
      "application/x-second demo\n");
  EXPECT_EQ(types.guess_type("a.dmo").type, "application/x-demo");
  EXPECT_EQ(types.guess_type("a.demo").type, "application/x-second");
  EXPECT_EQ(types.guess_type("a.ext").type, none);
  EXPECT_EQ(types.guess_type("a.html").type, "text/x-override");
}

TEST(MimeTypesTest, AddTypeTakesExtensionWithOrWithoutDot) {
  MimeTypes types;
  types.add_type("application/x-one", ".ONE");
  types.add_type("application/x-two", "two");
  EXPECT_EQ(types.guess_type("f.one").type, "application/x-one");
  EXPECT_EQ(types.guess_type("f.TWO").type, "application/x-two");
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/mimetypes_testXXXXXX";
    int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    close(fd);
    path_ = name;
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(MimeTypesTest, ReadFileLoadsAFile) {
  TempFile file("video/x-test tst\n");
  MimeTypes types;
  EXPECT_TRUE(types.read_file(file.path()));
  EXPECT_EQ(types.guess_type("movie.tst").type, "video/x-test");
}

TEST(MimeTypesTest, ReadFileRefusesMissingAndOversizedFiles) {
  MimeTypes types;
  std::size_t before = types.size();
  EXPECT_FALSE(types.read_file("/nonexistent/mime.types"));
  TempFile big("video/x-big big\n" + std::string(100, '#'));
  EXPECT_FALSE(types.read_file(big.path(), 64));
  EXPECT_EQ(types.size(), before);
  EXPECT_EQ(types.guess_type("a.big").type, none);
}

TEST(MimeTypesTest, SystemTableReadsEtcMimeTypesWhenPresent) {
  const MimeTypes& system = MimeTypes::system();
  EXPECT_EQ(system.guess_type("index.html").type, "text/html");
  if (access("/etc/mime.types", R_OK) != 0) GTEST_SKIP() << "no /etc/mime.types (media-types)";
  // Debian's media-types lists about a thousand extensions; the built-in table ~60.
  EXPECT_GT(system.size(), 500u);
  EXPECT_GT(system.size(), MimeTypes().size());
}

TEST(StaticContentTypeTest, TextTypesGetUtf8Charset) {
  MimeTypes types;
  EXPECT_EQ(static_content_type("index.html", types), "text/html; charset=utf-8");
  EXPECT_EQ(static_content_type("robots.txt", types), "text/plain; charset=utf-8");
  EXPECT_EQ(static_content_type("app.js", types), "text/javascript; charset=utf-8");
}

TEST(StaticContentTypeTest, OtherTypesAreBare) {
  MimeTypes types;
  EXPECT_EQ(static_content_type("logo.png", types), "image/png");
  EXPECT_EQ(static_content_type("data.json", types), "application/json");
  EXPECT_EQ(static_content_type("logo.svg", types), "image/svg+xml");
}

TEST(StaticContentTypeTest, GzipCodingIsApplicationGzip) {
  MimeTypes types;
  EXPECT_EQ(static_content_type("a.tar.gz", types), "application/gzip");
  EXPECT_EQ(static_content_type("a.gz", types), "application/gzip");
  EXPECT_EQ(static_content_type("a.svgz", types), "application/gzip");
}

TEST(StaticContentTypeTest, OtherCodingsAndUnknownTypesAreOctetStream) {
  MimeTypes types;
  EXPECT_EQ(static_content_type("a.txt.bz2", types), "application/octet-stream");
  EXPECT_EQ(static_content_type("a.br", types), "application/octet-stream");
  EXPECT_EQ(static_content_type("a.unknownext", types), "application/octet-stream");
  EXPECT_EQ(static_content_type("Makefile", types), "application/octet-stream");
}

}  // namespace web_mimetypes_test
}  // namespace tornado::web
