// RequestHandler: render/render_string through the template module, with Tornado's default
// template namespace expressed as JSON values and functions.
#include <cmath>
#include <ctime>

#include "tornado/web.h"
#include "tornado/web/ui_module.h"
#include "web/web_internal.h"

namespace tornado::web {

namespace {

nlohmann::json utf8_or_null(const std::string& s) {
  return detail::is_valid_utf8(s) ? nlohmann::json(s) : nlohmann::json();
}

using Args = std::vector<nlohmann::json>;

// Argument `index` of a template call, or its keyword `name`; null when neither is given.
const nlohmann::json& argument(const Args& args, const nlohmann::json& kwargs, std::size_t index,
                               const char* name) {
  static const nlohmann::json kNone;
  if (index < args.size()) return args[index];
  auto it = kwargs.find(name);
  return it == kwargs.end() ? kNone : *it;
}

std::string text_argument(const Args& args, const nlohmann::json& kwargs, std::size_t index,
                          const char* name, const char* function) {
  const auto& v = argument(args, kwargs, index, name);
  if (!v.is_string()) {
    throw std::invalid_argument(std::string(function) + ": " + name + " must be a string");
  }
  return v.get<std::string>();
}

// translate()/pgettext()'s optional plural_message and count (both or neither).
std::optional<std::pair<std::string, std::int64_t>> plural_arguments(const Args& args,
                                                                     const nlohmann::json& kwargs,
                                                                     std::size_t first,
                                                                     const char* function) {
  const auto& plural = argument(args, kwargs, first, "plural_message");
  if (plural.is_null()) return std::nullopt;
  const auto& count = argument(args, kwargs, first + 1, "count");
  if (!plural.is_string() || !count.is_number_integer()) {
    throw std::invalid_argument(std::string(function) +
                                ": plural_message needs a string and count an integer");
  }
  return std::make_pair(plural.get<std::string>(), count.get<std::int64_t>());
}

// "2026-11-30T05:43:42Z" (also with fractional seconds, or "+00:00"): a UTC ISO 8601 time.
std::optional<std::chrono::system_clock::time_point> parse_utc_iso8601(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return std::nullopt;
  std::int64_t micros = 0;
  if (*rest == '.') {
    std::int64_t scale = 100000;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, scale /= 10) micros += (*rest - '0') * scale;
  }
  if (std::string_view(rest) != "Z" && std::string_view(rest) != "+00:00") return std::nullopt;
  const std::time_t seconds = timegm(&tm);
  return std::chrono::system_clock::from_time_t(seconds) + std::chrono::microseconds(micros);
}

// A date argument: Unix seconds, or a UTC ISO 8601 string (the JSON model has no datetime;
// these are the two forms dates take in JSON).
std::chrono::system_clock::time_point date_argument(const nlohmann::json& v, const char* function) {
  if (v.is_string()) {
    if (auto t = parse_utc_iso8601(v.get_ref<const std::string&>())) return *t;
    throw std::invalid_argument(std::string(function) +
                                ": a date string must be UTC ISO 8601 (2026-11-30T05:43:42Z)");
  }
  if (!v.is_number()) {
    throw std::invalid_argument(std::string(function) +
                                ": the date must be Unix seconds or a UTC ISO 8601 string");
  }
  const auto us = static_cast<std::int64_t>(std::floor(v.get<double>() * 1e6));
  return std::chrono::system_clock::time_point(std::chrono::microseconds(us));
}

bool flag(const nlohmann::json& kwargs, const char* name, bool default_value) {
  auto it = kwargs.find(name);
  return it == kwargs.end() || it->is_null() ? default_value : static_cast<bool>(it->get<bool>());
}

int int_keyword(const nlohmann::json& kwargs, const char* name) {
  auto it = kwargs.find(name);
  return it == kwargs.end() || it->is_null() ? 0 : it->get<int>();
}

}  // namespace

std::string RequestHandler::get_template_path() const { return settings().template_path; }

nlohmann::json RequestHandler::template_request_value() {
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
  return request;
}

nlohmann::json RequestHandler::template_locale_value() {
  const tornado::locale::Locale& loc = locale();
  nlohmann::json values = nlohmann::json::object();
  values["code"] = loc.code();
  values["name"] = loc.name();
  values["rtl"] = loc.rtl();
  return values;
}

nlohmann::json RequestHandler::get_template_namespace() { return nlohmann::json::object(); }

templates::Functions RequestHandler::get_template_functions() { return {}; }

// The defaults behind a render's namespace and functions: built on a page's first use, so
// a page that uses none of them costs no JSON and no std::function (the Fortunes bench
// lost 14 % of its rate when the namespace and the locale functions were built per render).
class RequestHandler::TemplateDefaults final : public templates::Defaults {
 public:
  explicit TemplateDefaults(RequestHandler& handler) : handler_(handler) {}

  const nlohmann::json* value(std::string_view name) override {
    if (name == "request") {
      if (!request_) request_ = handler_.template_request_value();
      return &*request_;
    }
    if (name == "current_user") {
      if (!current_user_) current_user_ = handler_.current_user();
      return &*current_user_;
    }
    if (name == "locale") {
      if (!locale_) locale_ = handler_.template_locale_value();
      return &*locale_;
    }
    return nullptr;
  }

  const templates::Function* function(std::string_view name) override {
    if (!handler_.is_default_template_function(name)) return nullptr;
    if (!functions_) {
      functions_.emplace();
      handler_.add_default_template_functions(*functions_);
    }
    auto it = functions_->find(name);
    return it == functions_->end() ? nullptr : &it->second;
  }

 private:
  RequestHandler& handler_;
  std::optional<nlohmann::json> request_;
  std::optional<nlohmann::json> current_user_;
  std::optional<nlohmann::json> locale_;
  std::optional<templates::Functions> functions_;  // a map: its entries never move
};

bool RequestHandler::is_default_template_function(std::string_view name) const {
  static constexpr std::string_view kNames[] = {"_", "pgettext", "xsrf_form_html",
                                                "reverse_url", "static_url", "Template"};
  for (std::string_view n : kNames)
    if (name == n) return true;
  if (name.starts_with("locale.")) return true;
  const Settings& s = settings();
  return s.ui_modules.contains(name) || s.ui_methods.contains(name);
}

void RequestHandler::add_default_template_functions(templates::Functions& f) {
  add_locale_functions(f);
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
}

void RequestHandler::add_locale_functions(templates::Functions& f) {
  auto translate = [this](const Args& args, const nlohmann::json& kw) {
    auto message = text_argument(args, kw, 0, "message", "_");
    auto plural = plural_arguments(args, kw, 1, "_");
    return nlohmann::json(plural ? locale().translate(message, plural->first, plural->second)
                                 : locale().translate(message));
  };
  auto pgettext = [this](const Args& args, const nlohmann::json& kw) {
    auto context = text_argument(args, kw, 0, "context", "pgettext");
    auto message = text_argument(args, kw, 1, "message", "pgettext");
    auto plural = plural_arguments(args, kw, 2, "pgettext");
    return nlohmann::json(plural
                              ? locale().pgettext(context, message, plural->first, plural->second)
                              : locale().pgettext(context, message));
  };
  f["_"] = translate;
  f["locale.translate"] = translate;
  f["pgettext"] = pgettext;
  f["locale.pgettext"] = pgettext;
  f["locale.format_date"] = [this](const Args& args, const nlohmann::json& kw) {
    tornado::locale::DateFormat format;
    format.gmt_offset = int_keyword(kw, "gmt_offset");
    format.relative = flag(kw, "relative", true);
    format.shorter = flag(kw, "shorter", false);
    format.full_format = flag(kw, "full_format", false);
    return nlohmann::json(locale().format_date(
        date_argument(argument(args, kw, 0, "date"), "locale.format_date"), format));
  };
  f["locale.format_day"] = [this](const Args& args, const nlohmann::json& kw) {
    return nlohmann::json(
        locale().format_day(date_argument(argument(args, kw, 0, "date"), "locale.format_day"),
                            int_keyword(kw, "gmt_offset"), flag(kw, "dow", true)));
  };
  f["locale.list"] = [this](const Args& args, const nlohmann::json& kw) {
    const auto& parts = argument(args, kw, 0, "parts");
    if (!parts.is_array()) throw std::invalid_argument("locale.list: parts must be a list");
    std::vector<std::string> texts;
    for (const auto& p : parts) texts.push_back(p.is_string() ? p.get<std::string>() : templates::to_python_str(p));
    return nlohmann::json(locale().list(texts));
  };
  f["locale.friendly_number"] = [this](const Args& args, const nlohmann::json& kw) {
    const auto& value = argument(args, kw, 0, "value");
    if (!value.is_number_integer()) {
      throw std::invalid_argument("locale.friendly_number: value must be an integer");
    }
    return nlohmann::json(locale().friendly_number(value.get<std::int64_t>()));
  };
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
  if (ns.is_object() && !ns.empty() && values.is_object()) {
    for (auto it = values.begin(); it != values.end(); ++it) ns[it.key()] = std::move(it.value());
  } else if (values.is_object()) {
    ns = std::move(values);  // the common case: no handler additions, nothing to merge
  }
  templates::Functions functions = get_template_functions();
  for (const auto& [fname, fn] : extra) functions[fname] = fn;
  TemplateDefaults defaults(*this);
  return t->generate(ns, functions, defaults);
}

void RequestHandler::render(std::string_view name, nlohmann::json values) {
  if (finished_) throw std::logic_error("Cannot render() after finish()");
  std::string html = render_string(name, std::move(values));
  if (response().ui_modules) detail::insert_ui_module_parts(*this, *response().ui_modules, html);
  // The page becomes the buffer when nothing was written before it (no copy of the page, no
  // growth of the buffer).
  std::string& buffer = response().write_buffer;
  if (buffer.empty()) buffer = std::move(html);
  else buffer.append(html);
  finish();
}

}  // namespace tornado::web
