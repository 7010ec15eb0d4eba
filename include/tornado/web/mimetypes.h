// tornado/web/mimetypes.h — media types by file extension (Python's `mimetypes`, as
// StaticFileHandler uses it).
//
//   web::MimeTypes::system().guess_type("app.js");   // {"text/javascript", none}
//   web::MimeTypes::system().guess_type("a.tar.gz");  // {"application/x-tar", "gzip"}
//   web::static_content_type("index.html");          // "text/html; charset=utf-8"
//   web::static_content_type("logs.tgz");            // "application/gzip" (RFC 6713)
//
// The table is a built-in list of the common web types with /etc/mime.types (Debian's
// `media-types` package) read over it when present, as Python's mimetypes reads the system
// files over its defaults. Thread rule: a MimeTypes is a plain value; system() is built once
// (thread-safe) and never changes after, so any thread may use it.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tornado::web {

class MimeTypes {
 public:
  // Python's guess_type result: a media type and a content coding ("gzip", "bzip2", "xz",
  // "br", "compress"), each absent when unknown.
  struct Guess {
    std::optional<std::string> type;
    std::optional<std::string> encoding;
    bool operator==(const Guess&) const = default;
  };

  // The built-in table only.
  MimeTypes();

  // The built-in table with /etc/mime.types over it (when readable). Built on first use.
  static const MimeTypes& system();

  // Maps `extension` (with or without the leading '.', matched case-insensitively) to
  // `type`, replacing an earlier mapping.
  void add_type(std::string_view type, std::string_view extension);
  // Reads a mime.types file: "type ext ext..." lines, '#' starts a comment; later lines win.
  // Returns false (and changes nothing) if the file cannot be read or is larger than
  // `max_bytes` (default 4 MiB; Debian's is 73 KB).
  bool read_file(const std::string& path, std::size_t max_bytes = 4 << 20);
  // Parses mime.types text (see read_file).
  void read_text(std::string_view text);

  // The type and coding of the file named by the last component of `path`, as Python's
  // mimetypes.guess_type: ".tgz"/".svgz"-style suffixes expand first (".tar.gz",
  // ".svg.gz"), then a coding suffix (".gz", ".bz2", ".xz", ".br", ".Z"; case-sensitive as in
  // Python) is taken off, then the extension is looked up case-insensitively. A name that
  // starts with '.' and has no other dot (".bashrc") has no extension.
  Guess guess_type(std::string_view path) const;

  std::size_t size() const noexcept { return types_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> types_;  // ".ext" (lower case) -> type
};

// The Content-Type StaticFileHandler sends for `path` (Tornado's get_content_type): a gzip
// coding is `application/gzip` (RFC 6713), any other coding or an unknown type
// `application/octet-stream`; a `text/*` type gets `; charset=utf-8` (Tornado sends the bare
// type; the issue asks for the charset so browsers need not sniff).
std::string static_content_type(std::string_view path,
                                const MimeTypes& types = MimeTypes::system());

}  // namespace tornado::web
