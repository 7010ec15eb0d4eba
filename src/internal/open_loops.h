// How many IOLoops are open in this process (constructed and not yet closed), for
// process::fork_processes, which must run before any. Not public.
#pragma once

namespace tornado::detail {

int open_loop_count() noexcept;

}  // namespace tornado::detail
