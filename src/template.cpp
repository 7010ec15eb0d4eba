// Template construction (parse once, check include/extends through the loader at load time
// as Tornado does), the error types, and the loaders (directory with optional mtime
// watching, dict).
#include "tornado/template.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "internal/template_render.h"

namespace tornado::templates {

namespace fs = std::filesystem;

ParseError::ParseError(std::string message, std::string filename, int lineno)
    : std::runtime_error(message + " at " + filename + ":" + std::to_string(lineno)),
      message_(std::move(message)),
      filename_(std::move(filename)),
      lineno_(lineno) {}

TemplateError::TemplateError(std::string kind, std::string message, std::string filename,
                             int lineno, std::string via)
    : std::runtime_error(kind + ": " + message + " at " + filename + ":" + std::to_string(lineno) +
                         (via.empty() ? "" : " (via " + via + ")")),
      kind_(std::move(kind)),
      message_(std::move(message)),
      filename_(std::move(filename)),
      lineno_(lineno) {}

Template::Template(std::string source, std::string name, TemplateOptions options)
    : Template(std::move(source), std::move(name), std::move(options), nullptr) {}

Template::Template(std::string source, std::string name, TemplateOptions options,
                   BaseLoader* loader)
    : file_(std::make_unique<detail::File>()), loader_(loader) {
  std::string whitespace = options.whitespace;
  if (whitespace.empty()) {
    // Tornado's default: compress whitespace in HTML and JavaScript, keep it elsewhere.
    whitespace = name.ends_with(".html") || name.ends_with(".js") ? "single" : "all";
  }
  if (!detail::valid_whitespace_mode(whitespace))
    throw std::invalid_argument("invalid whitespace mode " + whitespace);
  file_->name = std::move(name);
  file_->autoescape = options.autoescape;
  file_->options = std::move(options);
  file_->owner = this;
  detail::parse_template(*file_, source, whitespace);

  // Check (and cache) what this template includes and extends now, so a missing file or a
  // cycle is an error at load time, as in Tornado (which compiles them in).
  std::vector<const detail::Node*> refs;
  detail::for_each_node(file_->body, [&](const detail::Node& n) {
    if (n.kind == detail::NodeKind::Include || n.kind == detail::NodeKind::Extends)
      refs.push_back(&n);
  });
  for (const detail::Node* n : refs) {
    if (!loader_) {
      throw ParseError(
          std::string(n->kind == detail::NodeKind::Extends ? "{% extends %}" : "{% include %}") +
              " block found, but no template loader",
          file_->name, n->line);
    }
    loader_->load(n->text, file_->name);
  }
}

Template::~Template() = default;

Template::Template(Template&& other) noexcept
    : file_(std::move(other.file_)), loader_(other.loader_) {
  if (file_) file_->owner = this;
}

Template& Template::operator=(Template&& other) noexcept {
  file_ = std::move(other.file_);
  loader_ = other.loader_;
  if (file_) file_->owner = this;
  return *this;
}

std::string Template::generate(const nlohmann::json& values, const Functions& functions) const {
  return detail::render(*this, values, functions, nullptr);
}

std::string Template::generate(const nlohmann::json& values, const Functions& functions,
                               Defaults& defaults) const {
  return detail::render(*this, values, functions, &defaults);
}

const std::string& Template::name() const noexcept { return file_->name; }

BaseLoader::BaseLoader(TemplateOptions options) : options_(std::move(options)) {
  if (!options_.whitespace.empty() && !detail::valid_whitespace_mode(options_.whitespace))
    throw std::invalid_argument("invalid whitespace mode " + options_.whitespace);
}

BaseLoader::~BaseLoader() = default;

void BaseLoader::reset() { templates_.clear(); }

std::shared_ptr<const Template> BaseLoader::load(std::string_view name,
                                                 std::string_view parent_path) {
  std::string resolved = resolve_path(name, parent_path);
  auto it = templates_.find(resolved);
  if (it != templates_.end() && !is_stale(resolved)) return it->second;
  if (loading_depth_ >= options_.max_include_depth) {
    throw ParseError("include/extends nested deeper than " +
                         std::to_string(options_.max_include_depth) +
                         " levels (does a template include or extend itself?)",
                     std::string(parent_path), 0);
  }
  struct DepthGuard {
    int& depth;
    explicit DepthGuard(int& d) : depth(d) { ++depth; }
    ~DepthGuard() { --depth; }
  } guard(loading_depth_);
  std::optional<std::string> source = read_source(resolved);
  if (!source)
    throw ParseError("template not found: " + resolved,
                     std::string(parent_path.empty() ? "<loader>" : parent_path), 0);
  std::shared_ptr<const Template> t(new Template(std::move(*source), resolved, options_, this));
  templates_[resolved] = t;
  return t;
}

namespace {
bool is_template_relative(std::string_view name, std::string_view parent) {
  return !parent.empty() && !parent.starts_with('<') && !parent.starts_with('/') &&
         !name.starts_with('/');
}
}  // namespace

Loader::Loader(std::string root_directory, TemplateOptions options, bool watch)
    : BaseLoader(std::move(options)), watch_(watch) {
  root_ = fs::absolute(root_directory).lexically_normal().string();
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string Loader::resolve_path(std::string_view name, std::string_view parent_path) const {
  if (is_template_relative(name, parent_path)) {
    fs::path current = fs::path(root_) / parent_path;
    fs::path relative = (current.parent_path() / name).lexically_normal();
    std::string rel = relative.string();
    if (rel.starts_with(root_ + "/")) return rel.substr(root_.size() + 1);
  }
  return std::string(name);
}

std::optional<std::string> Loader::read_source(const std::string& name) {
  // Unlike Tornado, a name never reaches outside the root ("/x" is taken from the root).
  std::string_view rel = name;
  while (rel.starts_with('/')) rel.remove_prefix(1);
  fs::path path = (fs::path(root_) / rel).lexically_normal();
  if (!path.string().starts_with(root_ + "/"))
    throw ParseError("template path outside the loader's root: " + name, name, 0);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (watch_)
    mtimes_[name] =
        static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return std::move(text).str();
}

bool Loader::is_stale(const std::string& name) {
  if (!watch_) return false;
  auto it = mtimes_.find(name);
  std::string_view rel = name;
  while (rel.starts_with('/')) rel.remove_prefix(1);
  struct stat st {};
  if (::stat((fs::path(root_) / rel).c_str(), &st) != 0) return true;  // gone: reload reports it
  std::int64_t mtime =
      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return it == mtimes_.end() || it->second != mtime;
}

DictLoader::DictLoader(std::map<std::string, std::string, std::less<>> templates,
                       TemplateOptions options)
    : BaseLoader(std::move(options)), dict_(std::move(templates)) {}

std::string DictLoader::resolve_path(std::string_view name, std::string_view parent_path) const {
  if (is_template_relative(name, parent_path)) {
    fs::path joined = fs::path(std::string(parent_path)).parent_path() / name;
    std::string normal = joined.lexically_normal().string();
    return normal.empty() ? "." : normal;
  }
  return std::string(name);
}

std::optional<std::string> DictLoader::read_source(const std::string& name) {
  auto it = dict_.find(name);
  if (it == dict_.end()) return std::nullopt;
  return it->second;
}

std::string to_python_str(const nlohmann::json& value) { return detail::py_str(value); }

}  // namespace tornado::templates
