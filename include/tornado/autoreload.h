// tornado/autoreload.h — restart the process when its binary is rebuilt (Tornado's
// `tornado.autoreload`).
//
//   autoreload::watch("config.yaml");                    // also restart when this changes
//   autoreload::add_reload_hook([] { db.close(); });      // runs just before the restart
//   autoreload::start();                                  // checks every 500 ms on this loop
//   IOLoop::current().start();
//
// An Application whose settings have `autoreload` on (the default when `debug` is on)
// calls start() itself, as Tornado does.
//
// What it watches: the running executable (the path /proc/self/exe named when start() was
// first called) and every watch()ed file, by modification time, inode and device, so a
// binary replaced by a new file (what linkers and `install` do: a rename over the old
// name) counts as changed. A changed file must then hold still: the restart waits until two
// checks in a row see the same size and time and, for an ELF executable, until every program
// header, segment and the section header table lie inside the file (a half-written binary is
// never run).
//
// How it restarts: the reload hooks run in order, logs and stdio are flushed, the interval
// timer and this thread's signal mask are cleared, and execv() runs the executable's path
// (or /proc/self/exe if that path is gone) with the original argv (from /proc/self/cmdline)
// and the current environment. The process id stays; descriptors opened without CLOEXEC
// stay open (tornado-cpp's sockets are all CLOEXEC, so listening sockets are closed and
// bound again by the new image; connections in flight are cut). A failed exec is logged and
// not tried again, as in Tornado.
//
// Thread rule: watch(), add_reload_hook() and start() may be called from any thread; start()
// watches on the calling thread's current loop (once per loop; a second loop in the same
// process logs a warning, as Tornado). Not for processes made by fork_processes: every child
// would restart on its own.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>

#include "tornado/task.h"

namespace tornado::autoreload {

// Starts checking, every `check_time`, on IOLoop::current(). Calling it again on the same
// loop does nothing. Stops by itself when the loop is closed.
void start(Duration check_time = std::chrono::milliseconds(500));
// True if start() is checking on the current thread's loop.
bool started();
// Runs a new loop that checks for changes, forever (until the process restarts): Tornado's
// wait(), for the end of a script or a test runner.
[[noreturn]] void wait();
// Adds a file to the watched set (any loop's checks see it). A missing file is not an
// error: it is watched from the moment it exists.
void watch(const std::filesystem::path& path);
// Adds a function to call just before restarting (in the order added). An exception from
// it is logged and the restart goes on.
void add_reload_hook(std::function<void()> hook);
// Restarts now: the hooks, then execv (Tornado's _reload). Returns only if the exec failed
// (logged) or a restart was already attempted; later changes then restart nothing.
void reload();

}  // namespace tornado::autoreload
