// Rendering a parsed template (src/template_render.cpp).
#pragma once

#include <string>

#include "internal/template_eval.h"

namespace tornado::templates::detail {

// Renders `t` with `values` and `functions`. Throws TemplateError (ParseError if a template
// loaded on the way, e.g. a changed file in watch mode, does not parse).
std::string render(const Template& t, const json& values, const Functions& functions,
                   Defaults* defaults);

// Calls fn(node) for every node of `body`, depth first.
template <typename Fn>
void for_each_node(const Body& body, Fn&& fn) {
  for (const Node& n : body) {
    fn(n);
    for_each_node(n.body, fn);
    for (const auto& [cond, b] : n.elifs) for_each_node(b, fn);
    if (n.else_body) for_each_node(*n.else_body, fn);
    for (const auto& h : n.handlers) for_each_node(h.body, fn);
    if (n.finally_body) for_each_node(*n.finally_body, fn);
  }
}

}  // namespace tornado::templates::detail
