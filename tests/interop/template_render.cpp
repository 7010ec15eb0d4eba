// Renders templates of a directory with tornado-cpp for tests/interop/test_templates.py:
//   template_render ROOT OUTDIR NAME...
// Each NAME is loaded through a Loader on ROOT and rendered with the values in ROOT/<stem>.json
// (if present) and the functions the Python side defines too (upper, Widget). The output goes
// to OUTDIR/NAME; a render error writes "!ERROR <Python exception class>\n" instead.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tornado/template.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace tornado::templates;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: template_render ROOT OUTDIR NAME...\n";
    return 2;
  }
  fs::path root = argv[1], outdir = argv[2];
  Loader loader(root.string());
  Functions fns;
  fns["upper"] = [](const std::vector<json>& a, const json&) -> json {
    std::string s = a.at(0).get<std::string>();
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
  };
  fns["Widget"] = [](const std::vector<json>& a, const json&) -> json {
    return "<b>" + a.at(0).get<std::string>() + "</b>";
  };
  int status = 0;
  for (int i = 3; i < argc; ++i) {
    std::string name = argv[i];
    json values = json::object();
    fs::path values_file = root / fs::path(name).replace_extension(".json");
    if (fs::exists(values_file)) values = json::parse(std::ifstream(values_file));
    std::string out;
    try {
      out = loader.load(name)->generate(values, fns);
    } catch (const TemplateError& e) {
      out = "!ERROR " + e.kind() + "\n";
      std::cerr << name << ": " << e.what() << "\n";
    } catch (const ParseError& e) {
      out = "!PARSEERROR\n";
      std::cerr << name << ": " << e.what() << "\n";
    }
    std::ofstream(outdir / name, std::ios::binary) << out;
  }
  return status;
}
