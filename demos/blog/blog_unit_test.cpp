// Unit tests of the blog demo's parts: Markdown safety and slugs, scrypt hashes, the SQLite
// store (duplicate emails, unique slugs, ordering, edits, the schema on reopen). The HTTP
// side is tested end to end by test_blog.py (ctest demo_blog).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "markdown.h"
#include "password.h"
#include "store.h"

namespace {

TEST(BlogMarkdown, RawHtmlIsText) {
  std::string html =
      blog::markdown_to_html("a <script>alert(1)</script>\n\n<div onclick=x>y</div>");
  EXPECT_EQ(html.find("<script"), std::string::npos) << html;
  EXPECT_EQ(html.find("<div"), std::string::npos) << html;
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos) << html;
}

TEST(BlogMarkdown, DangerousLinkSchemesBecomeHash) {
  for (const char* md : {"[a](javascript:alert(1))", "[a](JaVaScRiPt:alert(1))", "[a](vbscript:x)",
                         "[a](data:text/html,x)", "![i](javascript:x)", "[a](java&#x09;script:x)",
                         "[a](javascript&#58;alert(1))"}) {
    std::string html = blog::markdown_to_html(md);
    EXPECT_TRUE(html.find("href=\"#\"") != std::string::npos ||
                html.find("src=\"#\"") != std::string::npos)
        << md << " -> " << html;
    EXPECT_EQ(html.find("script:"), std::string::npos) << md << " -> " << html;
  }
}

TEST(BlogMarkdown, SafeLinksKept) {
  EXPECT_EQ(blog::markdown_to_html("[a](https://x.example/p?q=1&r=2)"),
            "<p><a href=\"https://x.example/p?q=1&amp;r=2\">a</a></p>\n");
  EXPECT_NE(blog::markdown_to_html("[a](/entry/x)").find("href=\"/entry/x\""), std::string::npos);
  EXPECT_NE(blog::markdown_to_html("[a](mailto:a@b.c)").find("href=\"mailto:a@b.c\""),
            std::string::npos);
  EXPECT_NE(blog::markdown_to_html("[a](x/y:z)").find("href=\"x/y:z\""), std::string::npos);
  EXPECT_EQ(blog::markdown_to_html("**b** *i*"), "<p><strong>b</strong> <em>i</em></p>\n");
}

TEST(BlogSlug, LikeTornadosDemo) {
  EXPECT_EQ(blog::slugify("My First Post!"), "my-first-post");
  EXPECT_EQ(blog::slugify("  --Hello,   World--  "), "hello-world");
  EXPECT_EQ(blog::slugify("caf\xc3\xa9 au lait"), "caf-au-lait");
  EXPECT_EQ(blog::slugify("!!!"), "entry");
  EXPECT_EQ(blog::slugify(""), "entry");
  EXPECT_EQ(blog::slugify(std::string(300, 'a')).size(), 100u);
}

TEST(BlogPassword, HashAndVerify) {
  std::string h1 = blog::hash_password("correct horse");
  std::string h2 = blog::hash_password("correct horse");
  EXPECT_TRUE(h1.starts_with("scrypt$32768$8$1$")) << h1;
  EXPECT_NE(h1, h2);  // a fresh salt each time
  EXPECT_TRUE(blog::verify_password("correct horse", h1));
  EXPECT_TRUE(blog::verify_password("correct horse", h2));
  EXPECT_FALSE(blog::verify_password("correct horsE", h1));
  EXPECT_FALSE(blog::verify_password("", h1));
}

TEST(BlogPassword, MalformedOrOutOfBoundsHashesAreFalse) {
  std::string good = blog::hash_password("pw", {.n = 1024, .r = 8, .p = 1});
  ASSERT_TRUE(blog::verify_password("pw", good));
  auto replace_params = [&](const std::string& params) {
    auto salt_at = good.find('$', good.find('$', good.find('$', good.find('$') + 1) + 1) + 1);
    return "scrypt$" + params + good.substr(salt_at);
  };
  EXPECT_TRUE(blog::verify_password("pw", replace_params("1024$8$1")));
  EXPECT_FALSE(blog::verify_password("pw", replace_params("2048$8$1")));        // other params
  EXPECT_FALSE(blog::verify_password("pw", replace_params("4294967296$8$1")));  // n > 2^20
  EXPECT_FALSE(blog::verify_password("pw", replace_params("1024$999$1")));
  EXPECT_FALSE(blog::verify_password("pw", replace_params("1024$8$0")));
  EXPECT_FALSE(blog::verify_password("pw", "bcrypt$" + good.substr(7)));
  EXPECT_FALSE(blog::verify_password("pw", good.substr(0, good.size() - 2)));
  EXPECT_FALSE(blog::verify_password("pw", good + "$x"));
  EXPECT_FALSE(blog::verify_password("pw", ""));
}

class BlogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("blog-store-" + std::to_string(::getpid()) + ".db");
    std::filesystem::remove(path_);
  }
  void TearDown() override {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::filesystem::remove(path_.string() + suffix);
    }
  }
  std::filesystem::path path_;
};

TEST_F(BlogStoreTest, AuthorsHaveUniqueEmails) {
  blog::Store store(path_.string());
  EXPECT_FALSE(store.any_author());
  auto id = store.create_author("a@x", "Ann", "h");
  ASSERT_TRUE(id);
  EXPECT_TRUE(store.any_author());
  EXPECT_FALSE(store.create_author("a@x", "Other", "h2"));
  auto ann = store.author_by_email("a@x");
  ASSERT_TRUE(ann);
  EXPECT_EQ(ann->id, *id);
  EXPECT_EQ(ann->name, "Ann");
  EXPECT_EQ(store.author_by_id(*id)->email, "a@x");
  EXPECT_FALSE(store.author_by_id(*id + 1));
  EXPECT_FALSE(store.author_by_email("A@x"));
}

TEST_F(BlogStoreTest, EntriesSlugsOrderAndEdits) {
  blog::Store store(path_.string());
  auto author = *store.create_author("a@x", "Ann", "h");
  EXPECT_EQ(store.create_entry(author, "T", "t", "m1", "<p>1</p>"), "t");
  EXPECT_EQ(store.create_entry(author, "T", "t", "m2", "<p>2</p>"), "t-2");
  EXPECT_EQ(store.create_entry(author, "T", "t", "m3", "<p>3</p>"), "t-3");
  auto all = store.entries(-1);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].slug, "t-3");  // newest first
  EXPECT_EQ(all[2].slug, "t");
  EXPECT_EQ(all[0].author_name, "Ann");
  EXPECT_EQ(store.entries(2).size(), 2u);
  auto entry = store.entry_by_slug("t-2");
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->markdown, "m2");
  EXPECT_EQ(entry->published.size(), 20u) << entry->published;  // 2026-11-30T05:43:42Z
  store.update_entry(entry->id, "New", "m2b", "<p>2b</p>");
  auto edited = store.entry_by_id(entry->id);
  EXPECT_EQ(edited->title, "New");
  EXPECT_EQ(edited->html, "<p>2b</p>");
  EXPECT_EQ(edited->slug, "t-2");
  EXPECT_FALSE(store.entry_by_slug("nope"));
  // An entry needs a real author (foreign key): an error, not a silent row.
  EXPECT_THROW(store.create_entry(author + 100, "T", "u", "m", "h"), blog::StoreError);
}

TEST_F(BlogStoreTest, ReopenKeepsDataAndSchema) {
  {
    blog::Store store(path_.string());
    auto author = *store.create_author("a@x", "Ann", "h");
    store.create_entry(author, "Kept", "kept", "m", "h");
  }
  blog::Store again(path_.string());
  ASSERT_TRUE(again.entry_by_slug("kept"));
  EXPECT_TRUE(again.any_author());
}

TEST(BlogStore, UnopenableFileIsAClearError) {
  try {
    blog::Store store("/nonexistent-dir/blog.db");
    FAIL() << "opened";
  } catch (const blog::StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/blog.db"), std::string::npos);
  }
}

}  // namespace
