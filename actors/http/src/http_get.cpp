#include "troupe/http/http_get.hpp"

#include <cstring>
#include <exception>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <unistd.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <curl/curl.h>

#include "troupe/actors/fetch_errc.hpp"
#include "troupe/actors/flow_errc.hpp"
#include "troupe/actors/log.hpp"

// How the pieces fit (everything below runs on the loop thread unless noted):
//
// - `start` / `cancel` (owner's thread) only post closures to the loop.
// - curl tells us which sockets it wants watched (CURLMOPT_SOCKETFUNCTION)
//   and when it next needs a timeout tick (CURLMOPT_TIMERFUNCTION). We watch
//   each socket with an Asio `stream_descriptor::async_wait` and a single
//   `steady_timer`, and report readiness with `curl_multi_socket_action`.
// - After every `curl_multi_socket_action`, finished transfers are collected
//   with `curl_multi_info_read` and handed to their `done`.
//
// Sockets stay owned by curl: the descriptor only borrows the fd and is
// `release()`d (never closed) when curl stops watching or closes it.

namespace troupe::http {

using actors::completion;
using actors::fetch_errc;
using actors::flow_errc;
using actors::logger;

namespace {

/// Initializes libcurl once per process. Magic statics make this thread-safe;
/// there is no matching `curl_global_cleanup`, because other code in the
/// process may use curl after the last `http_get` is gone.
CURLcode curl_init_once() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  return rc;
}

long to_ms(caf::timespan x) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(x).count());
}

bool has_crlf(std::string_view x) {
  return x.find_first_of("\r\n") != std::string_view::npos;
}

std::string_view trim(std::string_view x) {
  auto first = x.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos)
    return {};
  auto last = x.find_last_not_of(" \t\r\n");
  return x.substr(first, last - first + 1);
}

/// One attempt: the easy handle and everything curl writes into.
struct transfer {
  uint64_t id = 0;
  std::string url;
  completion<http_response> done;
  size_t max_body_size = 0;
  CURL* easy = nullptr;
  curl_slist* request_headers = nullptr;
  http_response response;
  bool body_too_large = false;
  char error_buffer[CURL_ERROR_SIZE] = {};

  transfer() = default;
  transfer(const transfer&) = delete;
  transfer& operator=(const transfer&) = delete;

  /// REQUIRES: `easy` was removed from the multi handle.
  ~transfer() {
    if (easy != nullptr)
      curl_easy_cleanup(easy);
    if (request_headers != nullptr)
      curl_slist_free_all(request_headers);
  }

  std::string detail(CURLcode rc) const {
    std::string result = curl_easy_strerror(rc);
    if (error_buffer[0] != '\0') {
      result += ": ";
      result += error_buffer;
    }
    return result;
  }
};

size_t on_body(char* data, size_t size, size_t count, void* user_data) {
  auto* t = static_cast<transfer*>(user_data);
  auto n = size * count;
  if (t->response.body.size() + n > t->max_body_size) {
    t->body_too_large = true;
    return CURL_WRITEFUNC_ERROR; // aborts with CURLE_WRITE_ERROR
  }
  t->response.body.append(data, n);
  return n;
}

size_t on_header(char* data, size_t size, size_t count, void* user_data) {
  auto* t = static_cast<transfer*>(user_data);
  auto n = size * count;
  std::string_view line{data, n};
  if (line.substr(0, 5) == "HTTP/") {
    // A new response starts (after a redirect or a 1xx): keep only the
    // headers of the final one.
    t->response.headers.clear();
    return n;
  }
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    auto name = trim(line.substr(0, colon));
    if (!name.empty())
      t->response.headers.emplace_back(std::string{name},
                                       std::string{trim(line.substr(colon + 1))});
  }
  return n; // the blank line ending the block and obsolete folding: ignored
}

/// Maps a finished transfer to its outcome (see the header for the table).
caf::expected<http_response> outcome(transfer& t, CURLcode rc) {
  switch (rc) {
    case CURLE_OK: {
      long status = 0;
      curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
      t.response.status = status;
      const char* effective = nullptr;
      curl_easy_getinfo(t.easy, CURLINFO_EFFECTIVE_URL, &effective);
      t.response.url = effective != nullptr ? effective : t.url;
      if (status >= 400)
        return caf::make_error(fetch_errc::http_status, static_cast<int64_t>(status), t.url);
      return std::move(t.response);
    }
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return caf::make_error(fetch_errc::connect_failed, t.detail(rc), t.url);
    case CURLE_OPERATION_TIMEDOUT:
      return caf::make_error(fetch_errc::attempt_timeout, t.detail(rc), t.url);
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
      if (t.body_too_large || rc == CURLE_FILESIZE_EXCEEDED)
        return caf::make_error(fetch_errc::transfer_failed,
                               t.detail(rc) + ": the body exceeds max_body_size ("
                                 + std::to_string(t.max_body_size) + " bytes)",
                               t.url);
      [[fallthrough]];
    default:
      return caf::make_error(fetch_errc::transfer_failed, t.detail(rc), t.url);
  }
}

/// A socket curl asked us to watch. Borrows the fd from curl.
struct watched_socket {
  watched_socket(asio::io_context& ioc, curl_socket_t fd, uint64_t serial)
    : descriptor(ioc), fd(fd), serial(serial) {
    // nop
  }

  watched_socket(const watched_socket&) = delete;
  watched_socket& operator=(const watched_socket&) = delete;

  ~watched_socket() {
    // Unregisters from the reactor and aborts pending waits, but leaves the
    // fd open: closing it is curl's business.
    if (descriptor.is_open())
      descriptor.release();
  }

  asio::posix::stream_descriptor descriptor;
  curl_socket_t fd;
  /// Tells a stale completion (for an fd number curl has since reused)
  /// from a current one.
  uint64_t serial;
  /// CURL_POLL_IN / CURL_POLL_OUT / CURL_POLL_INOUT, as curl last asked.
  int interest = 0;
  bool read_pending = false;
  bool write_pending = false;
};

} // namespace

// -- config -------------------------------------------------------------------

caf::error http_get::config::validate() const {
  auto fail = [](std::string why) {
    return caf::make_error(flow_errc::invalid_config, "http_get: " + std::move(why));
  };
  if (connect_timeout < std::chrono::milliseconds{1})
    return fail("connect_timeout must be >= 1ms");
  if (total_timeout < std::chrono::milliseconds{1})
    return fail("total_timeout must be >= 1ms");
  if (max_body_size == 0)
    return fail("max_body_size must be >= 1 (got 0)");
  if (has_crlf(user_agent))
    return fail("user_agent must not contain CR or LF");
  if (has_crlf(accept_encoding))
    return fail("accept_encoding must not contain CR or LF");
  return caf::none;
}

// -- impl ---------------------------------------------------------------------

struct http_get::impl {
  explicit impl(config c) : cfg(std::move(c)), guard(asio::make_work_guard(ioc)), timer(ioc) {
    init_error = cfg.validate();
    if (!init_error)
      init_curl();
    try {
      loop = std::thread{[this] { run(); }};
    } catch (const std::system_error& e) {
      if (!init_error)
        init_error = caf::make_error(fetch_errc::transfer_failed,
                                     std::string{"cannot start the loop thread: "} + e.what());
    }
  }

  ~impl() {
    // Only reached with a live multi handle if the loop never ran.
    if (multi != nullptr)
      curl_multi_cleanup(multi);
  }

  // -- setup and teardown ---------------------------------------------------

  void init_curl() {
    if (auto rc = curl_init_once(); rc != CURLE_OK) {
      init_error = caf::make_error(fetch_errc::transfer_failed,
                                   std::string{"curl_global_init: "} + curl_easy_strerror(rc));
      return;
    }
    multi = curl_multi_init();
    if (multi == nullptr) {
      init_error = caf::make_error(fetch_errc::transfer_failed, "curl_multi_init failed");
      return;
    }
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &impl::socket_callback);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &impl::timer_callback);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
  }

  void run() {
    // Handlers catch what user code throws, so nothing escapes `run`; if
    // something still does, keep serving the other transfers.
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        logger("troupe.http_get")->error("loop handler threw: {}", e.what());
      } catch (...) {
        logger("troupe.http_get")->error("loop handler threw a non-exception");
      }
    }
  }

  /// Runs on the loop as its last job: drops every transfer without calling
  /// `done`, closes the cached connections, and ends `run`.
  void shutdown() {
    for (auto& [id, t] : transfers)
      curl_multi_remove_handle(multi, t->easy);
    in_flight -= transfers.size();
    transfers.clear();
    if (multi != nullptr) {
      curl_multi_cleanup(multi); // closes via close_socket_callback
      multi = nullptr;
    }
    sockets.clear();
    timer.cancel();
    ioc.stop();
  }

  // -- starting and cancelling (loop thread) --------------------------------

  void do_start(uint64_t id, http_request req, completion<http_response> done) {
    if (init_error) {
      finish(id, std::move(done), init_error);
      return;
    }
    if (transfers.count(id) != 0) {
      finish(id, std::move(done),
             caf::make_error(fetch_errc::transfer_failed,
                             "attempt id " + std::to_string(id) + " is already in flight",
                             req.url));
      return;
    }
    auto t = std::make_unique<transfer>();
    t->id = id;
    t->url = std::move(req.url);
    t->done = std::move(done);
    t->max_body_size = cfg.max_body_size;
    if (auto err = configure(*t, req.headers)) {
      auto fn = std::move(t->done);
      t.reset();
      finish(id, std::move(fn), std::move(err));
      return;
    }
    if (auto rc = curl_multi_add_handle(multi, t->easy); rc != CURLM_OK) {
      auto fn = std::move(t->done);
      auto err = caf::make_error(
        fetch_errc::transfer_failed,
        std::string{"curl_multi_add_handle: "} + curl_multi_strerror(rc), t->url);
      t.reset();
      finish(id, std::move(fn), std::move(err));
      return;
    }
    // curl now asks for a timeout of 0 through timer_callback; the timer
    // then kicks the transfer off.
    transfers.emplace(id, std::move(t));
  }

  /// Creates and configures the easy handle.
  caf::error configure(transfer& t, const http_headers& headers) {
    for (auto& [name, value] : headers) {
      if (name.empty() || has_crlf(name) || has_crlf(value)
          || name.find(':') != std::string::npos)
        return caf::make_error(fetch_errc::transfer_failed,
                               "invalid request header name or value", t.url);
      // "Name;" is curl's way to send a header with an empty value.
      auto line = value.empty() ? name + ";" : name + ": " + value;
      auto* next = curl_slist_append(t.request_headers, line.c_str());
      if (next == nullptr)
        return caf::make_error(fetch_errc::transfer_failed, "curl_slist_append failed", t.url);
      t.request_headers = next;
    }
    t.easy = curl_easy_init();
    if (t.easy == nullptr)
      return caf::make_error(fetch_errc::transfer_failed, "curl_easy_init failed", t.url);
    auto* e = t.easy;
    CURLcode rc = CURLE_OK;
    auto check = [&rc](CURLcode x) {
      if (rc == CURLE_OK)
        rc = x;
    };
    check(curl_easy_setopt(e, CURLOPT_URL, t.url.c_str()));
    check(curl_easy_setopt(e, CURLOPT_PRIVATE, &t));
    check(curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error_buffer));
    // The loop thread must never get signals from curl (DNS timeouts).
    check(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L));
    check(curl_easy_setopt(e, CURLOPT_HTTPGET, 1L));
    // Only HTTP(S), also after redirects: a URL from outside must not turn
    // into file:// or anything else curl speaks.
    check(curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"));
    check(curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"));
    check(curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, cfg.max_redirects > 0 ? 1L : 0L));
    check(curl_easy_setopt(e, CURLOPT_MAXREDIRS, static_cast<long>(cfg.max_redirects)));
    // "" offers every encoding this libcurl decodes (gzip, deflate, br, zstd).
    check(curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, cfg.accept_encoding.c_str()));
    check(curl_easy_setopt(e, CURLOPT_USERAGENT, cfg.user_agent.c_str()));
    check(curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, to_ms(cfg.connect_timeout)));
    check(curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, to_ms(cfg.total_timeout)));
    // Refuses early when Content-Length is already too large; on_body also
    // counts the decoded bytes.
    check(curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
                           static_cast<curl_off_t>(cfg.max_body_size)));
    check(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body));
    check(curl_easy_setopt(e, CURLOPT_WRITEDATA, &t));
    check(curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_header));
    check(curl_easy_setopt(e, CURLOPT_HEADERDATA, &t));
    check(curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, &impl::close_socket_callback));
    check(curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, this));
    if (t.request_headers != nullptr)
      check(curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.request_headers));
    if (rc != CURLE_OK)
      return caf::make_error(fetch_errc::transfer_failed,
                             std::string{"curl_easy_setopt: "} + curl_easy_strerror(rc),
                             t.url);
    return caf::none;
  }

  void do_cancel(uint64_t id) {
    if (auto i = transfers.find(id); i != transfers.end()) {
      curl_multi_remove_handle(multi, i->second->easy);
      transfers.erase(i);
      ++cancelled;
      --in_flight;
    }
    // From now on no transfer with this id exists, so no `done` can race.
    std::lock_guard<std::mutex> lock{cancel_mtx};
    cancelled_ids.erase(id);
  }

  // -- completing (loop thread) ---------------------------------------------

  /// Hands every finished transfer to its `done`.
  void collect_finished() {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      auto* easy = msg->easy_handle;
      auto rc = msg->data.result; // msg is invalid after remove_handle
      char* ptr = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &ptr);
      auto* t = reinterpret_cast<transfer*>(ptr);
      auto i = transfers.find(t->id);
      auto result = outcome(*t, rc);
      curl_multi_remove_handle(multi, easy);
      auto done = std::move(t->done);
      auto id = t->id;
      transfers.erase(i);
      finish(id, std::move(done), std::move(result));
    }
  }

  /// Counts the attempt as finished and calls `done`, unless it was
  /// cancelled or the operation is being destroyed.
  void finish(uint64_t id, completion<http_response> done,
              caf::expected<http_response> result) {
    --in_flight;
    {
      std::lock_guard<std::mutex> lock{cancel_mtx};
      if (cancelled_ids.count(id) != 0) {
        ++cancelled;
        return;
      }
    }
    if (closing)
      return;
    ++completed;
    try {
      done(std::move(result));
    } catch (const std::exception& e) {
      logger("troupe.http_get")->error("done of attempt {} threw: {}", id, e.what());
    } catch (...) {
      logger("troupe.http_get")->error("done of attempt {} threw", id);
    }
  }

  // -- curl callbacks (loop thread, from inside curl calls) -----------------

  static int socket_callback(CURL*, curl_socket_t fd, int what, void* self_ptr,
                             void* socket_ptr) {
    return static_cast<impl*>(self_ptr)->on_socket(fd, what, socket_ptr);
  }

  int on_socket(curl_socket_t fd, int what, void* socket_ptr) {
    if (what == CURL_POLL_REMOVE) {
      sockets.erase(fd);
      return 0;
    }
    auto i = sockets.find(fd);
    // A null socket_ptr means curl has just started to track this fd: any
    // entry we still hold for the number belongs to a closed predecessor.
    if (socket_ptr == nullptr || i == sockets.end()) {
      if (i != sockets.end())
        sockets.erase(i);
      auto w = std::make_unique<watched_socket>(ioc, fd, ++next_serial);
      asio::error_code ec;
      w->descriptor.assign(fd, ec);
      if (ec) {
        logger("troupe.http_get")->error("cannot watch socket {}: {}", fd, ec.message());
        return -1; // curl fails the transfers using it
      }
      curl_multi_assign(multi, fd, w.get()); // only a "known" marker for us
      i = sockets.emplace(fd, std::move(w)).first;
    }
    i->second->interest = what;
    arm(*i->second);
    return 0;
  }

  static int timer_callback(CURLM*, long timeout_ms, void* self_ptr) {
    static_cast<impl*>(self_ptr)->on_timer(timeout_ms);
    return 0;
  }

  void on_timer(long timeout_ms) {
    if (timeout_ms < 0) {
      timer.cancel();
      return;
    }
    // Even a timeout of 0 goes through the loop: curl must not be re-entered
    // from its own callback.
    timer.expires_after(std::chrono::milliseconds{timeout_ms});
    timer.async_wait([this](const asio::error_code& ec) {
      if (ec == asio::error::operation_aborted || multi == nullptr)
        return;
      int running = 0;
      curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
      collect_finished();
    });
  }

  static int close_socket_callback(void* self_ptr, curl_socket_t fd) {
    // The descriptor must leave the reactor before the fd number can be
    // reused by the next socket.
    static_cast<impl*>(self_ptr)->sockets.erase(fd);
    return ::close(fd);
  }

  // -- socket readiness (loop thread) ---------------------------------------

  /// Waits for each direction curl is interested in and not yet waiting for.
  void arm(watched_socket& w) {
    auto wait = [this, &w](asio::posix::stream_descriptor::wait_type type, int direction) {
      w.descriptor.async_wait(
        type, [this, fd = w.fd, serial = w.serial, direction](const asio::error_code& ec) {
          on_ready(fd, serial, direction, ec);
        });
    };
    if ((w.interest & CURL_POLL_IN) != 0 && !w.read_pending) {
      w.read_pending = true;
      wait(asio::posix::stream_descriptor::wait_read, CURL_CSELECT_IN);
    }
    if ((w.interest & CURL_POLL_OUT) != 0 && !w.write_pending) {
      w.write_pending = true;
      wait(asio::posix::stream_descriptor::wait_write, CURL_CSELECT_OUT);
    }
  }

  void on_ready(curl_socket_t fd, uint64_t serial, int direction, const asio::error_code& ec) {
    auto i = sockets.find(fd);
    if (i == sockets.end() || i->second->serial != serial)
      return; // released or replaced meanwhile
    auto& w = *i->second;
    auto wanted = direction == CURL_CSELECT_IN ? CURL_POLL_IN : CURL_POLL_OUT;
    (direction == CURL_CSELECT_IN ? w.read_pending : w.write_pending) = false;
    if (ec == asio::error::operation_aborted || (w.interest & wanted) == 0)
      return; // curl lost interest in this direction since we armed it
    int running = 0;
    curl_multi_socket_action(multi, fd, ec ? CURL_CSELECT_ERR : direction, &running);
    collect_finished();
    // The action may have changed, removed or replaced the entry: look again.
    if (auto j = sockets.find(fd); j != sockets.end())
      arm(*j->second);
  }

  // -- state ----------------------------------------------------------------

  config cfg;
  caf::error init_error;

  std::atomic<uint64_t> started{0};
  std::atomic<uint64_t> completed{0};
  std::atomic<uint64_t> cancelled{0};
  std::atomic<uint64_t> in_flight{0};
  /// Set by the destructor: no `done` from then on.
  std::atomic<bool> closing{false};

  /// Ids cancelled by the owner whose cancel has not run on the loop yet.
  std::mutex cancel_mtx;
  std::unordered_set<uint64_t> cancelled_ids;

  // Loop-thread state. Declaration order matters: the io_context must outlive
  // the timer and the descriptors.
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  asio::steady_timer timer;
  CURLM* multi = nullptr;
  std::unordered_map<curl_socket_t, std::unique_ptr<watched_socket>> sockets;
  uint64_t next_serial = 0;
  std::unordered_map<uint64_t, std::unique_ptr<transfer>> transfers;

  std::thread loop;
};

// -- http_get -----------------------------------------------------------------

http_get::http_get() : http_get(config{}) {
  // nop
}

http_get::http_get(config cfg) : impl_(std::make_unique<impl>(std::move(cfg))) {
  // nop
}

http_get::~http_get() {
  auto& d = *impl_;
  d.closing = true;
  if (d.loop.joinable()) {
    asio::post(d.ioc, [p = &d] { p->shutdown(); });
    d.guard.reset();
    d.loop.join();
  }
}

caf::expected<std::unique_ptr<http_get>> http_get::make(config cfg) {
  if (auto err = cfg.validate())
    return err;
  auto result = std::make_unique<http_get>(std::move(cfg));
  if (auto& err = result->init_error())
    return err;
  return result;
}

void http_get::start(uint64_t id, const http_request& req, completion<http_response> done) {
  auto& d = *impl_;
  ++d.started;
  ++d.in_flight;
  if (!d.loop.joinable()) {
    // No loop to post to (the thread could not be created).
    --d.in_flight;
    ++d.completed;
    done(d.init_error);
    return;
  }
  asio::post(d.ioc, [p = &d, id, req, done = std::move(done)]() mutable {
    p->do_start(id, std::move(req), std::move(done));
  });
}

void http_get::cancel(uint64_t id) {
  auto& d = *impl_;
  if (!d.loop.joinable())
    return;
  {
    std::lock_guard<std::mutex> lock{d.cancel_mtx};
    d.cancelled_ids.insert(id);
  }
  asio::post(d.ioc, [p = &d, id] { p->do_cancel(id); });
}

uint64_t http_get::started() const noexcept {
  return impl_->started;
}

uint64_t http_get::completed() const noexcept {
  return impl_->completed;
}

uint64_t http_get::cancelled() const noexcept {
  return impl_->cancelled;
}

uint64_t http_get::in_flight() const noexcept {
  return impl_->in_flight;
}

const http_get::config& http_get::settings() const noexcept {
  return impl_->cfg;
}

const caf::error& http_get::init_error() const noexcept {
  return impl_->init_error;
}

} // namespace troupe::http
