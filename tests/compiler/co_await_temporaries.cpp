// The g++ 12 co_await bug, reduced: which argument forms inside a `co_await` expression are
// miscompiled, and which are safe. Standalone (no tornado code): a minimal lazy Task, then
// one coroutine per form, each run in a forked child so that a crash is a verdict, not the
// end of the run.
//
// What g++ 12 does (GCC bug 100611 and its duplicates): a temporary of *aggregate* type
// created anywhere in the full-expression of a `co_await` is destroyed twice, in the
// awaiting (caller's) frame: `co_await f({.name = s})`, `co_await f(Opt{s, 1})`, a lambda
// closure with captures (also an aggregate-like class: `co_await g([s] {...})`, whether
// converted to std::function or passed as a template argument). It does not matter whether
// f is a coroutine, a plain function returning a Task, or returns a ready awaitable: the
// callee cannot protect the caller. Class types with a user-provided constructor
// (std::string, std::function, an options class with setters) are not affected, nor is
// anything built as a named variable, or a Task made in an earlier statement. A
// conditional operand, `co_await (c ? f() : g())`, is broken whatever the types: g++ 12
// evaluates both arms and destroys the chosen one twice.
//
// The test (ctest: compiler_co_await_temporaries): every form the rule in docs/task.md calls
// safe must work with every compiler, and with clang every form must work. With g++ 12 the
// unsafe forms are reported (they crash: "double free"), not asserted, so that a fixed g++
// passes too. Exit status 1 if a safe form breaks (or any form with clang).
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <coroutine>
#include <cstdio>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

template <typename T>
struct Task {
  struct promise_type {
    std::optional<T> value;
    std::coroutine_handle<> continuation;
    Task get_return_object() {
      return Task{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct Final {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        auto next = h.promise().continuation;
        return next ? next : std::noop_coroutine();
      }
      void await_resume() noexcept {}
    };
    Final final_suspend() noexcept { return {}; }
    void return_value(T v) { value = std::move(v); }
    void unhandled_exception() { std::terminate(); }
  };
  explicit Task(std::coroutine_handle<promise_type> h) : handle(h) {}
  Task(Task&& other) noexcept : handle(std::exchange(other.handle, {})) {}
  ~Task() {
    if (handle) handle.destroy();
  }
  bool await_ready() { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) {
    handle.promise().continuation = awaiting;
    return handle;
  }
  T await_resume() { return std::move(*handle.promise().value); }
  std::coroutine_handle<promise_type> handle;
};

// An options aggregate, like ConnectOptions was.
struct Opt {
  std::string name;
  int n = 0;
  std::optional<std::chrono::milliseconds> timeout{};
};
// The same with a user-provided constructor and setters: not an aggregate.
struct Built {
  Built() {}
  Built&& set_name(std::string v) && {
    name = std::move(v);
    return std::move(*this);
  }
  Built&& set_n(int v) && {
    n = v;
    return std::move(*this);
  }
  std::string name;
  int n = 0;
};
// An aggregate with the same setters: still an aggregate, still broken.
struct AggregateWithSetters {
  AggregateWithSetters&& set_name(std::string v) && {
    name = std::move(v);
    return std::move(*this);
  }
  std::string name;
  int n = 1;
};
// An awaitable that is ready at once: the callee has no coroutine at all.
struct Ready {
  std::string value;
  bool await_ready() { return true; }
  void await_suspend(std::coroutine_handle<>) {}
  std::string await_resume() { return value; }
};

std::string text(const std::string& name, int n) { return name + "/" + std::to_string(n); }
Task<std::string> by_value(Opt o) { co_return text(o.name, o.n); }
Task<std::string> by_cref(const Opt& o) { co_return text(o.name, o.n); }
Task<std::string> built(Built o) { co_return text(o.name, o.n); }
Task<std::string> aggregate_with_setters(AggregateWithSetters o) { co_return text(o.name, o.n); }
Task<std::string> callback(std::function<std::string()> f) { co_return f(); }
Task<std::string> echo(std::string s) { co_return s; }
Task<std::string> wrapper(Opt o) { return by_value(std::move(o)); }  // not a coroutine
Ready ready(Opt o) { return Ready{text(o.name, o.n)}; }
template <typename F>
Ready ready_template(F&& f) {
  return Ready{f()};
}

const std::string kLong = "a string longer than std::string's small buffer";
const std::string kWant = kLong + "/1";
bool g_first = true;  // not a constant: the conditional below is decided at run time

struct Form {
  const char* code;
  bool safe;  // what the rule in docs/task.md says
  Task<std::string> (*run)();
  std::string want;
};

const std::vector<Form> kForms = {
    // Broken with g++ 12: aggregate temporaries and closures with captures in the co_await.
    {"co_await f({.name = s, .n = 1})", false,
     []() -> Task<std::string> { co_return co_await by_value({.name = kLong, .n = 1}); }, kWant},
    {"co_await f(Opt{s, 1})", false,
     []() -> Task<std::string> {
       co_return co_await by_value(Opt{kLong, 1});
     },
     kWant},
    {"co_await f({.name = \"x\", .n = 1})  (short string)", false,
     []() -> Task<std::string> { co_return co_await by_value({.name = "x", .n = 1}); }, "x/1"},
    {"co_await f_const_ref({.name = s, .n = 1})", false,
     []() -> Task<std::string> { co_return co_await by_cref({.name = kLong, .n = 1}); }, kWant},
    {"co_await plain_fn_returning_task({.name = s, .n = 1})", false,
     []() -> Task<std::string> { co_return co_await wrapper({.name = kLong, .n = 1}); }, kWant},
    {"co_await ready_awaitable({.name = s, .n = 1})", false,
     []() -> Task<std::string> { co_return co_await ready({.name = kLong, .n = 1}); }, kWant},
    {"co_await f(AggregateWithSetters{}.set_name(s))", false,
     []() -> Task<std::string> {
       co_return co_await aggregate_with_setters(AggregateWithSetters{}.set_name(kLong));
     },
     kWant},
    {"co_await g([s] { return s; })  (to std::function)", false,
     []() -> Task<std::string> {
       std::string s = kLong;
       co_return co_await callback([s] { return s; });
     },
     kLong},
    {"co_await template_fn([s] { return s; })", false,
     []() -> Task<std::string> {
       std::string s = kLong;
       co_return co_await ready_template([s] { return s; });
     },
     kLong},
    // A conditional operand: g++ 12 evaluates both arms (both tasks are made) and destroys
    // the chosen one twice, whatever their type (found with IOStream's write awaiters).
    {"co_await (c ? f(std::string(s)) : f(std::string(t)))", false,
     []() -> Task<std::string> {
       co_return co_await (g_first ? echo(std::string(kLong)) : echo(std::string("other")));
     },
     kLong},
    // Safe with every compiler.
    {"auto t = c ? f(...) : g(...); co_await std::move(t)", true,
     []() -> Task<std::string> {
       auto t = g_first ? echo(std::string(kLong)) : echo(std::string("other"));
       co_return co_await std::move(t);
     },
     kLong},
    {"Opt o{.name = s, .n = 1}; co_await f(o)", true,
     []() -> Task<std::string> {
       Opt o{.name = kLong, .n = 1};
       co_return co_await by_value(o);
     },
     kWant},
    {"Opt o{...}; co_await f(std::move(o))", true,
     []() -> Task<std::string> {
       Opt o{.name = kLong, .n = 1};
       co_return co_await by_value(std::move(o));
     },
     kWant},
    {"auto t = f({.name = s, .n = 1}); co_await std::move(t)", true,
     []() -> Task<std::string> {
       auto t = by_value({.name = kLong, .n = 1});
       co_return co_await std::move(t);
     },
     kWant},
    {"co_await f(Built().set_name(s).set_n(1))  (class with setters)", true,
     []() -> Task<std::string> { co_return co_await built(Built().set_name(kLong).set_n(1)); },
     kWant},
    {"co_await g([] { return s_global; })  (no captures)", true,
     []() -> Task<std::string> { co_return co_await callback([] { return kLong; }); }, kLong},
    {"co_await g([&s] { return s; })  (captures by reference)", true,
     []() -> Task<std::string> {
       std::string s = kLong;
       co_return co_await callback([&s] { return s; });
     },
     kLong},
    {"std::function<...> fn = [s] {...}; co_await g(fn)", true,
     []() -> Task<std::string> {
       std::string s = kLong;
       std::function<std::string()> fn = [s] { return s; };
       co_return co_await callback(fn);
     },
     kLong},
    {"auto t = g([s] {...}); co_await std::move(t)", true,
     []() -> Task<std::string> {
       std::string s = kLong;
       auto t = callback([s] { return s; });
       co_return co_await std::move(t);
     },
     kLong},
    {"co_await echo(std::string(s))  (std::string temporary)", true,
     []() -> Task<std::string> { co_return co_await echo(std::string(kLong)); }, kLong},
};

// Runs one form in a child process: "ok", "wrong value ...", or "crash (signal N)".
std::string verdict(const Form& form) {
  std::fflush(stdout);
  int fds[2];
  if (pipe(fds) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    auto task = form.run();
    task.handle.resume();
    std::string got = task.handle.done() ? *task.handle.promise().value : "<not finished>";
    std::string out = got == form.want ? "ok" : "wrong value '" + got + "'";
    if (write(fds[1], out.data(), out.size()) < 0) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  char buf[256] = {};
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return "crash (signal " + std::to_string(WTERMSIG(status)) + ")";
  if (WEXITSTATUS(status) != 0) return "exit " + std::to_string(WEXITSTATUS(status));
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "no verdict";
}

}  // namespace

int main() {
#if defined(__clang__)
  const bool every_form_must_work = true;
  std::printf("clang %s\n", __clang_version__);
#else
  const bool every_form_must_work = false;
  std::printf("g++ %s\n", __VERSION__);
#endif
  int failed = 0, broken_unsafe = 0;
  for (const Form& form : kForms) {
    std::string v = verdict(form);
    bool ok = v == "ok";
    bool must = form.safe || every_form_must_work;
    if (!ok && must) ++failed;
    if (!ok && !must) ++broken_unsafe;
    std::printf("%-4s %-66s %s%s\n", form.safe ? "safe" : "", form.code, v.c_str(),
                !ok && must ? "   <-- FAILS THE TEST" : "");
  }
  std::printf("%d form(s) the rule calls unsafe broke with this compiler; %d failure(s)\n",
              broken_unsafe, failed);
  return failed ? 1 : 0;
}
