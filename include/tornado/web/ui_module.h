// tornado/web/ui_module.h — UI modules (Tornado's UIModule), part of web.h.
//
//   struct EntryModule : web::UIModule {
//     using UIModule::UIModule;
//     std::string render(const std::vector<nlohmann::json>& args, const nlohmann::json&) override {
//       return render_string("modules/entry.html", {{"entry", args.at(0)}});
//     }
//     std::string embedded_css() override { return ".entry { margin: 1em 0; }"; }
//   };
//   web::Settings s;
//   s.ui_modules["Entry"] = web::ui_module<EntryModule>();
//   // in a template: {% module Entry(entry) %}
//
// A template calls a module by name; its output is written raw (not autoescaped). One module
// object is made per handler and name, on first use, and kept for the request: when the
// handler render()s, every module used contributes its CSS/JS/head/body parts once, inserted
// before </head> and </body> as Tornado does. Built in: Template("path", key=value...)
// (TemplateModule); linkify(...) and xsrf_form_html() are the template functions of the same
// names. A UI method (Settings::ui_methods) is a function that also receives the handler.
// Thread rule: loop thread only, like the handler.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tornado/httputil.h"
#include "tornado/web/settings.h"

namespace tornado::web {

class RequestHandler;

class UIModule {
 public:
  explicit UIModule(RequestHandler& handler) : handler_(&handler) {}
  virtual ~UIModule() = default;
  UIModule(const UIModule&) = delete;
  UIModule& operator=(const UIModule&) = delete;

  // The module's HTML for one call `{% module Name(args..., key=value...) %}`.
  virtual std::string render(const std::vector<nlohmann::json>& args,
                             const nlohmann::json& kwargs) = 0;

  // Page parts, asked once per render() for every module used; "" / {} = none.
  virtual std::string embedded_javascript() { return {}; }
  // Relative paths go through static_url(); "/..." and "http(s):..." are used as they are.
  virtual std::vector<std::string> javascript_files() { return {}; }
  virtual std::string embedded_css() { return {}; }
  virtual std::vector<std::string> css_files() { return {}; }
  // HTML put before </head>, and before </body>.
  virtual std::string html_head() { return {}; }
  virtual std::string html_body() { return {}; }

 protected:
  RequestHandler& handler() const noexcept { return *handler_; }
  httputil::HTTPServerRequest& request() const noexcept;
  const nlohmann::json& current_user() const;
  // handler().render_string(name, values).
  std::string render_string(std::string_view name,
                            const nlohmann::json& values = nlohmann::json::object()) const;

 private:
  RequestHandler* handler_;
};

// Settings::ui_modules entry for module class M (constructed from the handler).
template <typename M>
UIModuleFactory ui_module() {
  static_assert(std::is_base_of_v<UIModule, M>, "ui_module<M>: M must derive UIModule");
  return [](RequestHandler& handler) -> std::unique_ptr<UIModule> {
    return std::make_unique<M>(handler);
  };
}

// {% module Template("path", key=value...) %}: renders `path` with the keyword arguments as
// its values (its own namespace, unlike include). The template may call
// {{ set_resources(embedded_css=..., css_files=..., embedded_javascript=...,
// javascript_files=..., html_head=..., html_body=...) }} (strings, or lists for *_files);
// resources count once per template path, and a second call for the same path with
// different resources is an error, as in Tornado.
class TemplateModule : public UIModule {
 public:
  using UIModule::UIModule;
  std::string render(const std::vector<nlohmann::json>& args,
                     const nlohmann::json& kwargs) override;
  std::string embedded_javascript() override { return join("embedded_javascript", "\n"); }
  std::vector<std::string> javascript_files() override { return files("javascript_files"); }
  std::string embedded_css() override { return join("embedded_css", "\n"); }
  std::vector<std::string> css_files() override { return files("css_files"); }
  std::string html_head() override { return join("html_head", ""); }
  std::string html_body() override { return join("html_body", ""); }

 private:
  std::string join(std::string_view key, std::string_view separator) const;
  std::vector<std::string> files(std::string_view key) const;
  // By first use: (template path, its set_resources keywords).
  std::vector<std::pair<std::string, nlohmann::json>> resources_;
};

namespace detail {
// The modules one handler has used, in order of first use.
struct ActiveUIModules {
  std::vector<std::pair<std::string, std::unique_ptr<UIModule>>> modules;
  UIModule& get(RequestHandler& handler, const std::string& name, const UIModuleFactory& make);
};
// Inserts the parts of `modules` into `html` as Tornado's render() does. Throws
// std::runtime_error when parts need a </head> or </body> the page lacks.
void insert_ui_module_parts(RequestHandler& handler, ActiveUIModules& modules, std::string& html);
}  // namespace detail

}  // namespace tornado::web
