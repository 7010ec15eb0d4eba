// Static file resolution against a temporary tree with hostile symlinks, safe opening (a
// symlink or FIFO swapped in after the check), reading, and the content-hash versions.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/openat2.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <random>
#include <string>

#include "file_test_util.h"
#include "tornado/log.h"
#include "tornado/testing.h"
#include "tornado/web/static_files.h"

namespace tornado::web {
namespace web_static_files_test {

namespace fs = std::filesystem;
using test::write_file;

std::string sha512_hex(const std::string& data) {
  unsigned char digest[SHA512_DIGEST_LENGTH];
  SHA512(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  std::string hex;
  for (unsigned char c : digest) {
    static constexpr char kHex[] = "0123456789abcdef";
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
  }
  return hex;
}

// base/
//   secret.txt                 outside the root
//   root2/f.txt                a sibling whose name starts with the root's
//   outdir/f.txt
//   root/
//     a.txt  sub/b.css  sub/index.html  emptydir/  fifo
//     link_in -> a.txt         link_abs_in -> <root>/a.txt
//     link_out -> ../secret.txt   link_etc -> /etc/passwd   dirlink_out -> ..
//     dangling -> nowhere      badindex/index.html -> ../../secret.txt
class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/static_files_testXXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    base_ = fs::canonical(tmpl);
    root_ = base_ / "root";
    fs::create_directories(root_ / "sub");
    fs::create_directories(root_ / "emptydir");
    fs::create_directories(root_ / "badindex");
    fs::create_directories(base_ / "root2");
    fs::create_directories(base_ / "outdir");
    write_file(base_ / "secret.txt", "secret");
    write_file(base_ / "root2" / "f.txt", "sibling");
    write_file(base_ / "outdir" / "f.txt", "outside");
    write_file(root_ / "a.txt", "hello");
    write_file(root_ / "sub" / "b.css", "body{}");
    write_file(root_ / "sub" / "index.html", "<p>index</p>");
    ASSERT_EQ(::mkfifo((root_ / "fifo").c_str(), 0600), 0);
    fs::create_symlink("a.txt", root_ / "link_in");
    fs::create_symlink(root_ / "a.txt", root_ / "link_abs_in");
    fs::create_symlink("../secret.txt", root_ / "link_out");
    fs::create_symlink("/etc/passwd", root_ / "link_etc");
    fs::create_directory_symlink("..", root_ / "dirlink_out");
    fs::create_symlink("nowhere", root_ / "dangling");
    fs::create_symlink("../../secret.txt", root_ / "badindex" / "index.html");
  }
  void TearDown() override { fs::remove_all(base_); }

  StaticPath resolve(std::string_view path, std::string_view request_path = "/static/x",
                     std::optional<std::string> default_filename = {}) {
    return resolve_static_path(root_.string(), path, request_path, default_filename);
  }
  void expect_error(std::string_view path, int status,
                    std::optional<std::string> default_filename = {}) {
    StaticPath found = resolve(path, "/static/x/", default_filename);
    EXPECT_EQ(found.kind, StaticPath::kError) << path;
    EXPECT_EQ(found.status, status) << path << ": " << found.log_message;
  }
  void expect_file(std::string_view path, const fs::path& real,
                   std::optional<std::string> default_filename = {}) {
    StaticPath found = resolve(path, "/static/x/", default_filename);
    EXPECT_EQ(found.kind, StaticPath::kFile) << path << ": " << found.log_message;
    EXPECT_EQ(found.absolute_path, real.string()) << path;
    EXPECT_EQ(found.root_real, root_.string());
  }

  fs::path base_, root_;
};

TEST(GetAbsolutePathTest, JoinsAndNormalisesLexically) {
  EXPECT_EQ(get_absolute_path("/r", "a/../b"), "/r/b");
  EXPECT_EQ(get_absolute_path("/r/", "./a//b/"), "/r/a/b");
  EXPECT_EQ(get_absolute_path("/r", ""), "/r");
  EXPECT_EQ(get_absolute_path("/r", "../../.."), "/");
  EXPECT_EQ(get_absolute_path("/r", "/etc/passwd"), "/etc/passwd");
  EXPECT_EQ(get_absolute_path("/", ".."), "/");
  EXPECT_EQ(get_absolute_path("rel", "x"), fs::current_path().string() + "/rel/x");
}

TEST_F(StaticFilesTest, FileInsideRootResolvesToItsRealPath) {
  expect_file("a.txt", root_ / "a.txt");
  expect_file("sub/b.css", root_ / "sub" / "b.css");
  expect_file("sub/../a.txt", root_ / "a.txt");
  expect_file("./sub//b.css", root_ / "sub" / "b.css");
}

TEST_F(StaticFilesTest, RelativeRootIsTakenFromTheCurrentDirectory) {
  fs::path saved = fs::current_path();
  fs::current_path(base_);
  StaticPath found = resolve_static_path("root", "a.txt", "/static/a.txt");
  fs::current_path(saved);
  EXPECT_EQ(found.kind, StaticPath::kFile);
  EXPECT_EQ(found.absolute_path, (root_ / "a.txt").string());
}

TEST_F(StaticFilesTest, DotDotOutOfRootIsForbidden) {
  expect_error("../secret.txt", 403);
  expect_error("sub/../../secret.txt", 403);
  expect_error("..", 403);
  expect_error("../root2/f.txt", 403);  // a sibling named like the root plus a suffix
  StaticPath found = resolve("../secret.txt");
  EXPECT_EQ(found.log_message, "../secret.txt is not in root static directory");
}

TEST_F(StaticFilesTest, AbsolutePathOutsideRootIsForbidden) {
  expect_error("/etc/passwd", 403);
  expect_error((base_ / "secret.txt").string(), 403);
  expect_error("/", 403);
}

TEST_F(StaticFilesTest, SymlinkInsideRootIsServed) {
  expect_file("link_in", root_ / "a.txt");
  expect_file("link_abs_in", root_ / "a.txt");
}

TEST_F(StaticFilesTest, SymlinkOutOfRootIsForbidden) {
  expect_error("link_out", 403);
  expect_error("link_etc", 403);
  expect_error("dirlink_out/secret.txt", 403);
}

// Only where a path really leads counts: out through a link and back in is a file inside.
TEST_F(StaticFilesTest, SymlinkOutAndBackInIsServed) {
  expect_file("dirlink_out/root/a.txt", root_ / "a.txt");
}

TEST_F(StaticFilesTest, MissingFilesAre404) {
  expect_error("missing.txt", 404);
  expect_error("a.txt/child", 404);  // through a file
  expect_error("dangling", 404);
  expect_error("sub/missing/deeper.css", 404);
  expect_error(std::string_view("a.txt\0.png", 10), 404);
}

TEST_F(StaticFilesTest, MissingRootIs404) {
  StaticPath found = resolve_static_path((base_ / "nope").string(), "a.txt", "/a.txt");
  EXPECT_EQ(found.kind, StaticPath::kError);
  EXPECT_EQ(found.status, 404);
}

TEST_F(StaticFilesTest, DirectoryWithoutDefaultFilenameIs403) {
  expect_error("sub", 403);
  expect_error("", 403);
  EXPECT_EQ(resolve("sub").log_message, "sub is not a file");
}

TEST_F(StaticFilesTest, FifoAndOtherNonRegularFilesAre403) { expect_error("fifo", 403); }

TEST_F(StaticFilesTest, DirectoryWithoutTrailingSlashRedirects) {
  StaticPath found = resolve("sub", "/static/sub", "index.html");
  EXPECT_EQ(found.kind, StaticPath::kRedirect);
  EXPECT_EQ(found.status, 301);
  EXPECT_EQ(found.location, "/static/sub/");
}

TEST_F(StaticFilesTest, RedirectOfDoubleSlashPathIsForbidden) {
  StaticPath found = resolve("sub", "//evil.example/sub", "index.html");
  EXPECT_EQ(found.kind, StaticPath::kError);
  EXPECT_EQ(found.status, 403);
}

TEST_F(StaticFilesTest, DirectoryWithTrailingSlashServesDefaultFilename) {
  expect_file("sub", root_ / "sub" / "index.html", "index.html");
  expect_file("sub/", root_ / "sub" / "index.html", "index.html");
}

TEST_F(StaticFilesTest, MissingDefaultFilenameIs404) {
  expect_error("emptydir", 404, "index.html");
}

TEST_F(StaticFilesTest, DefaultFilenameSymlinkedOutOfRootIsForbidden) {
  expect_error("badindex", 403, "index.html");
}

TEST_F(StaticFilesTest, OpenReadsSizeMtimeAndRanges) {
  write_file(root_ / "big.bin", std::string(100000, 'x') + "tail");
  StaticFile file = StaticFile::open(resolve("big.bin"));
  ASSERT_TRUE(file.valid()) << file.error();
  EXPECT_EQ(file.size(), 100004);
  auto mtime = fs::last_write_time(root_ / "big.bin");
  auto since_epoch = std::chrono::duration_cast<std::chrono::seconds>(
      std::chrono::file_clock::to_sys(mtime).time_since_epoch());
  EXPECT_EQ(file.modified(), since_epoch.count());
  std::string out;
  file.read_at(99998, 100, out);
  EXPECT_EQ(out, "xxtail");
  file.read_at(0, 3, out);
  EXPECT_EQ(out, "xxx");
  file.read_at(200000, 10, out);
  EXPECT_EQ(out, "");
}

TEST_F(StaticFilesTest, OpenOfAnErrorResultIsInvalid) {
  StaticFile file = StaticFile::open(resolve("missing.txt"));
  EXPECT_FALSE(file.valid());
}

TEST_F(StaticFilesTest, SymlinkSwappedInAfterResolveIsNotFollowed) {
  write_file(root_ / "swap.txt", "innocent");
  StaticPath found = resolve("swap.txt");
  ASSERT_EQ(found.kind, StaticPath::kFile);
  fs::remove(root_ / "swap.txt");
  fs::create_symlink(base_ / "secret.txt", root_ / "swap.txt");
  StaticFile file = StaticFile::open(found);
  EXPECT_FALSE(file.valid());
  EXPECT_EQ(file.error(), ELOOP);
}

bool kernel_has_openat2() {
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC;
  long fd = ::syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
  if (fd >= 0) ::close(static_cast<int>(fd));
  return fd >= 0;
}

TEST_F(StaticFilesTest, DirectorySwappedForSymlinkAfterResolveIsNotFollowed) {
  if (!kernel_has_openat2()) GTEST_SKIP() << "openat2 needs Linux 5.6";
  fs::create_directories(root_ / "d");
  write_file(root_ / "d" / "f.txt", "inside");
  StaticPath found = resolve("d/f.txt");
  ASSERT_EQ(found.kind, StaticPath::kFile);
  fs::rename(root_ / "d", root_ / "d_old");
  fs::create_directory_symlink(base_ / "outdir", root_ / "d");  // outdir/f.txt exists
  StaticFile file = StaticFile::open(found);
  EXPECT_FALSE(file.valid());
}

TEST_F(StaticFilesTest, FifoSwappedInAfterResolveDoesNotBlock) {
  write_file(root_ / "pipe.txt", "innocent");
  StaticPath found = resolve("pipe.txt");
  fs::remove(root_ / "pipe.txt");
  ASSERT_EQ(::mkfifo((root_ / "pipe.txt").c_str(), 0600), 0);
  StaticFile file = StaticFile::open(found);  // would hang without O_NONBLOCK
  EXPECT_FALSE(file.valid());
  EXPECT_EQ(file.error(), EINVAL);
}

// ---- versions ----

TEST(ContentVersionTest, IsTheSha512HexOfTheContent) {
  char tmpl[] = "/tmp/static_version_testXXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  write_file(tmpl, "abc");
  // FIPS 180-2's test vector for "abc".
  EXPECT_EQ(get_content_version(tmpl),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  std::mt19937 rng(3);
  std::string big(300000, '\0');  // several 64 KiB pieces
  for (char& c : big) c = static_cast<char>(rng());
  write_file(tmpl, big);
  EXPECT_EQ(get_content_version(tmpl), sha512_hex(big));
  ::unlink(tmpl);
  EXPECT_EQ(get_content_version(tmpl), std::nullopt);
}

TEST_F(StaticFilesTest, HashCacheComputesOncePerPath) {
  StaticHashCache cache;
  std::string path = (root_ / "a.txt").string();
  auto first = cache.get(path);
  EXPECT_EQ(first, sha512_hex("hello"));
  write_file(root_ / "a.txt", "changed");
  EXPECT_EQ(cache.get(path), first);  // cached
  EXPECT_EQ(cache.get(path, false), sha512_hex("changed"));
  EXPECT_EQ(cache.get(path), first);  // use_cache=false left the cache alone
  cache.reset();
  EXPECT_EQ(cache.get(path), sha512_hex("changed"));
  EXPECT_EQ(cache.size(), 1u);
}

TEST_F(StaticFilesTest, HashCacheRemembersFailures) {
  StaticHashCache cache;
  std::string path = (root_ / "later.txt").string();
  {
    testing::ExpectLog expect(gen_log(), "Could not open static file '.*later.txt'");
    EXPECT_EQ(cache.get(path), std::nullopt);
    EXPECT_EQ(expect.matched(), 1);
  }
  write_file(root_ / "later.txt", "now here");
  EXPECT_EQ(cache.get(path), std::nullopt);  // as Tornado: a failure is cached too
  cache.reset();
  EXPECT_EQ(cache.get(path), sha512_hex("now here"));
}

TEST_F(StaticFilesTest, MakeStaticUrlAppendsTheVersion) {
  static_hash_cache().reset();
  std::string root = root_.string();
  EXPECT_EQ(make_static_url("/static/", root, "a.txt"), "/static/a.txt?v=" + sha512_hex("hello"));
  EXPECT_EQ(make_static_url("/static/", root, "a.txt", false), "/static/a.txt");
  EXPECT_EQ(make_static_url("/static/", root, "missing.txt"), "/static/missing.txt");
  EXPECT_EQ(make_static_url("/s/", root, "sub/b.css"), "/s/sub/b.css?v=" + sha512_hex("body{}"));
}

TEST_F(StaticFilesTest, NoVersionForFilesOutsideTheRoot) {
  std::string root = root_.string();
  EXPECT_EQ(get_static_version(root, "../secret.txt"), std::nullopt);
  EXPECT_EQ(get_static_version(root, "link_out"), std::nullopt);
  EXPECT_EQ(get_static_version(root, "sub"), std::nullopt);
  EXPECT_EQ(make_static_url("/static/", root, "link_etc"), "/static/link_etc");
}

}  // namespace web_static_files_test
}  // namespace tornado::web
