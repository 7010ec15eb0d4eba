// The demos' graceful drain (tornado/drain.h): options --drain (on by default),
// --drain_timeout, --drain_syn_filter and --reuse_port, and the Drain they describe.
//
//   demo::define_drain_options();          // before options::parse_command_line
//   auto drain = demo::make_drain();        // in main(), before any loop thread starts
//   ... each loop:  if (drain) drain->add(server);
//   ... main loop:  if (drain) drain->handle_signals();   // SIGTERM, SIGINT
#pragma once

#include <memory>

#include "tornado/drain.h"

namespace demo {

void define_drain_options();
// nullptr with --drain=false (SIGTERM and SIGINT then end the process at once, as before).
// Otherwise blocks SIGTERM and SIGINT in the calling thread, so that the loop threads it
// starts afterwards inherit the mask and the signals reach the main loop's signalfd.
std::unique_ptr<tornado::Drain> make_drain();
// --reuse_port: the first loop's listening sockets take SO_REUSEPORT too, so that another
// process can serve the port beside this one (start the new one, then SIGTERM this one).
bool reuse_port_option();

}  // namespace demo
