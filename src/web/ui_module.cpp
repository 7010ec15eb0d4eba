// UI modules: the module base's handler accessors, TemplateModule, and the insertion of the
// modules' page parts into a rendered page (Tornado's RequestHandler.render).
#include "tornado/web/ui_module.h"

#include <stdexcept>
#include <unordered_set>

#include "tornado/escape.h"
#include "tornado/web/request_handler.h"

namespace tornado::web {

using nlohmann::json;

httputil::HTTPServerRequest& UIModule::request() const noexcept { return handler_->request(); }

const json& UIModule::current_user() const { return handler_->current_user(); }

std::string UIModule::render_string(std::string_view name, const json& values) const {
  return handler_->render_string(name, values);
}

// ---- TemplateModule ----

std::string TemplateModule::render(const std::vector<json>& args, const json& kwargs) {
  if (args.size() != 1 || !args[0].is_string()) {
    throw std::invalid_argument("Template(path, key=value...) takes one template path");
  }
  std::string path = args[0].get<std::string>();
  templates::Functions extra;
  extra["set_resources"] = [this, path](const std::vector<json>& positional, const json& kw) {
    if (!positional.empty()) throw std::invalid_argument("set_resources takes keywords only");
    for (const auto& [seen, resources] : resources_) {
      if (seen != path) continue;
      if (resources != kw) {
        throw std::invalid_argument(
            "set_resources called with different resources for the same template");
      }
      return json("");
    }
    resources_.emplace_back(path, kw);
    return json("");
  };
  return handler().render_string(path, kwargs.is_object() ? kwargs : json::object(), extra);
}

std::string TemplateModule::join(std::string_view key, std::string_view separator) const {
  std::string out;
  bool first = true;
  for (const auto& [path, resources] : resources_) {
    auto it = resources.find(key);
    if (it == resources.end()) continue;
    if (!first) out += separator;
    out += it->is_string() ? it->get<std::string>() : it->dump();
    first = false;
  }
  return out;
}

std::vector<std::string> TemplateModule::files(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& [path, resources] : resources_) {
    auto it = resources.find(key);
    if (it == resources.end()) continue;
    if (it->is_string()) {
      out.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      for (const auto& f : *it) {
        if (!f.is_string()) throw std::invalid_argument(std::string(key) + " must be strings");
        out.push_back(f.get<std::string>());
      }
    } else {
      throw std::invalid_argument(std::string(key) + " must be a string or a list of strings");
    }
  }
  return out;
}

// ---- the handler's active modules ----

namespace detail {

UIModule& ActiveUIModules::get(RequestHandler& handler, const std::string& name,
                               const UIModuleFactory& make) {
  for (auto& [n, module] : modules) {
    if (n == name) return *module;
  }
  auto module = make(handler);
  if (!module) throw std::logic_error("UI module factory for '" + name + "' returned null");
  return *modules.emplace_back(name, std::move(module)).second;
}

namespace {

// Tornado's is_absolute: used as is, not through static_url.
bool is_absolute(std::string_view path) {
  return path.starts_with("/") || path.starts_with("http:") || path.starts_with("https:");
}

// The unique URLs of `files` in first-seen order (Tornado's render_linked_js/css).
std::vector<std::string> unique_urls(RequestHandler& handler,
                                     const std::vector<std::string>& files) {
  std::vector<std::string> urls;
  std::unordered_set<std::string> seen;
  for (const auto& f : files) {
    std::string url = is_absolute(f) ? f : handler.static_url(f);
    if (seen.insert(url).second) urls.push_back(std::move(url));
  }
  return urls;
}

std::size_t find_or_throw(const std::string& html, std::string_view tag, bool last) {
  std::size_t at = last ? html.rfind(tag) : html.find(tag);
  if (at == std::string::npos) {
    throw std::runtime_error("render(): the page's UI modules add content before " +
                             std::string(tag) + ", which the page does not have");
  }
  return at;
}

void insert_before(std::string& html, std::string_view tag, bool last, const std::string& text) {
  html.insert(find_or_throw(html, tag, last), text + "\n");
}

}  // namespace

void insert_ui_module_parts(RequestHandler& handler, ActiveUIModules& active, std::string& html) {
  std::vector<std::string> js_embed, js_files, css_embed, css_files;
  std::string heads, bodies;
  for (auto& [name, module] : active.modules) {
    if (auto s = module->embedded_javascript(); !s.empty()) js_embed.push_back(std::move(s));
    for (auto& f : module->javascript_files()) js_files.push_back(std::move(f));
    if (auto s = module->embedded_css(); !s.empty()) css_embed.push_back(std::move(s));
    for (auto& f : module->css_files()) css_files.push_back(std::move(f));
    heads += module->html_head();
    bodies += module->html_body();
  }
  auto join = [](const std::vector<std::string>& parts) {
    std::string out;
    for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "\n" : "") + parts[i];
    return out;
  };
  // The order of Tornado's render(): each insertion goes right before the tag, so later
  // ones land after earlier ones.
  if (!js_files.empty()) {
    std::string tags;
    for (const auto& url : unique_urls(handler, js_files)) {
      tags +=
          "<script src=\"" + escape::xhtml_escape(url) + "\" type=\"text/javascript\"></script>";
    }
    insert_before(html, "</body>", true, tags);
  }
  if (!js_embed.empty()) {
    insert_before(
        html, "</body>", true,
        "<script type=\"text/javascript\">\n//<![CDATA[\n" + join(js_embed) + "\n//]]>\n</script>");
  }
  if (!css_files.empty()) {
    std::string tags;
    for (const auto& url : unique_urls(handler, css_files)) {
      tags +=
          "<link href=\"" + escape::xhtml_escape(url) + "\" type=\"text/css\" rel=\"stylesheet\"/>";
    }
    insert_before(html, "</head>", false, tags);
  }
  if (!css_embed.empty()) {
    insert_before(html, "</head>", false,
                  "<style type=\"text/css\">\n" + join(css_embed) + "\n</style>");
  }
  if (!heads.empty()) insert_before(html, "</head>", false, heads);
  if (!bodies.empty()) insert_before(html, "</body>", false, bodies);
}

}  // namespace detail
}  // namespace tornado::web
