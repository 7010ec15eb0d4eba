#include "drain_setup.h"

#include <algorithm>
#include <chrono>

#include "tornado/options.h"

namespace demo {

void define_drain_options() {
  namespace options = tornado::options;
  options::define<bool>("drain", true,
                        "on SIGTERM/SIGINT, drain gracefully (a second signal cuts it short)");
  options::define<double>("drain_timeout", 30.0,
                          "seconds a drain waits for requests and streams before closing them");
  options::define<bool>("drain_syn_filter", true,
                        "drop new connection attempts before closing the listening sockets "
                        "(so that their backlog is not reset); 0 for measurements");
  options::define<bool>("reuse_port", false,
                        "SO_REUSEPORT on the listening sockets (a restart behind a second "
                        "process on the same port)");
}

std::unique_ptr<tornado::Drain> make_drain() {
  namespace options = tornado::options;
  if (!options::get<bool>("drain")) return nullptr;
  tornado::DrainOptions o;
  o.timeout = tornado::Duration(std::max(0.0, options::get<double>("drain_timeout")));
  o.drop_new_syns = options::get<bool>("drain_syn_filter");
  tornado::Drain::block_signals();
  return std::make_unique<tornado::Drain>(o);
}

bool reuse_port_option() { return tornado::options::get<bool>("reuse_port"); }

}  // namespace demo
