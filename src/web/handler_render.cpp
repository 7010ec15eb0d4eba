// RequestHandler: render/render_string through the template module, with Tornado's default
// template namespace expressed as JSON values and functions.
#include "tornado/web.h"
#include "tornado/web/ui_module.h"
#include "web/web_internal.h"

namespace tornado::web {

namespace {

nlohmann::json utf8_or_null(const std::string& s) {
  return detail::is_valid_utf8(s) ? nlohmann::json(s) : nlohmann::json();
}

}  // namespace

std::string RequestHandler::get_template_path() const { return settings().template_path; }

nlohmann::json RequestHandler::get_template_namespace() {
  nlohmann::json arguments = nlohmann::json::object();
  for (const auto& [name, values] : request_->arguments) {
    if (!detail::is_valid_utf8(name)) continue;
    auto& list = arguments[name] = nlohmann::json::array();
    for (const auto& v : values) list.push_back(utf8_or_null(v));
  }
  // Filled key by key: nlohmann's initializer-list form copies every value it is given.
  nlohmann::json request = nlohmann::json::object();
  request["method"] = request_->method;
  request["uri"] = utf8_or_null(request_->uri);
  request["path"] = utf8_or_null(request_->path);
  request["query"] = utf8_or_null(request_->query);
  request["host"] = utf8_or_null(request_->host);
  request["host_name"] = utf8_or_null(request_->host_name);
  request["remote_ip"] = request_->remote_ip;
  request["protocol"] = request_->protocol;
  request["version"] = request_->version;
  request["arguments"] = std::move(arguments);
  nlohmann::json ns = nlohmann::json::object();
  ns["request"] = std::move(request);
  ns["current_user"] = current_user();
  ns["locale"] = get_browser_locale();
  return ns;
}

templates::Functions RequestHandler::get_template_functions() {
  templates::Functions f;
  f["xsrf_form_html"] = [this](const std::vector<nlohmann::json>&, const nlohmann::json&) {
    return nlohmann::json(xsrf_form_html());
  };
  f["reverse_url"] = [this](const std::vector<nlohmann::json>& args, const nlohmann::json&) {
    if (args.empty() || !args[0].is_string()) {
      throw std::invalid_argument("reverse_url(name, args...) needs a rule name");
    }
    std::vector<std::string> rest;
    for (std::size_t i = 1; i < args.size(); ++i) {
      rest.push_back(args[i].is_string() ? args[i].get<std::string>() : args[i].dump());
    }
    return nlohmann::json(reverse_url(args[0].get<std::string>(), rest));
  };
  if (!settings().static_path.empty()) {
    f["static_url"] = [this](const std::vector<nlohmann::json>& args, const nlohmann::json& kw) {
      if (args.empty() || !args[0].is_string()) {
        throw std::invalid_argument("static_url(path) needs a path string");
      }
      std::optional<bool> include_host;
      if (kw.contains("include_host")) include_host = kw["include_host"].get<bool>();
      const bool version =
          kw.contains("include_version") ? kw["include_version"].get<bool>() : true;
      return nlohmann::json(static_url(args[0].get<std::string>(), include_host, version));
    };
  }
  add_ui_functions(f);
  return f;
}

void RequestHandler::add_ui_functions(templates::Functions& f) {
  const Settings& s = settings();
  auto add_module = [&](const std::string& name, const UIModuleFactory* make) {
    f[name] = [this, name, make](const std::vector<nlohmann::json>& args,
                                 const nlohmann::json& kwargs) {
      if (!response().ui_modules)
        response().ui_modules = std::make_shared<detail::ActiveUIModules>();
      static const UIModuleFactory kTemplate = ui_module<TemplateModule>();
      return nlohmann::json(
          response().ui_modules->get(*this, name, make ? *make : kTemplate).render(args, kwargs));
    };
  };
  if (!s.ui_modules.contains("Template")) add_module("Template", nullptr);
  for (const auto& [name, make] : s.ui_modules) add_module(name, &make);
  for (const auto& [name, method] : s.ui_methods) {
    f[name] = [this, m = &method](const std::vector<nlohmann::json>& args,
                                  const nlohmann::json& kwargs) {
      return (*m)(*this, args, kwargs);
    };
  }
}

std::string RequestHandler::render_string(std::string_view name, nlohmann::json values) {
  return render_string(name, std::move(values), {});
}

std::string RequestHandler::render_string(std::string_view name, nlohmann::json values,
                                          const templates::Functions& extra) {
  auto& loader = application_->template_loader(get_template_path());
  auto t = loader.load(name);
  nlohmann::json ns = get_template_namespace();
  if (values.is_object()) {
    for (auto it = values.begin(); it != values.end(); ++it) ns[it.key()] = std::move(it.value());
  }
  templates::Functions functions = get_template_functions();
  for (const auto& [fname, fn] : extra) functions[fname] = fn;
  return t->generate(ns, functions);
}

void RequestHandler::render(std::string_view name, nlohmann::json values) {
  if (finished_) throw std::logic_error("Cannot render() after finish()");
  std::string html = render_string(name, std::move(values));
  if (response().ui_modules) detail::insert_ui_module_parts(*this, *response().ui_modules, html);
  finish(html);
}

}  // namespace tornado::web
