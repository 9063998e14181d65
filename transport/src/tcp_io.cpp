// The TCP implementation of io.hpp on standalone Asio. The only translation
// unit that includes Asio.

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include <asio.hpp>

#include <caf/deep_to_string.hpp>
#include <caf/execution_unit.hpp>
#include <caf/make_counted.hpp>
#include <caf/ref_counted.hpp>
#include <caf/resumable.hpp>
#include <caf/send.hpp>

#include <troupe/actors/log.hpp>

#include "framing.hpp"
#include "io.hpp"
#include "io_messages.hpp"
#include "troupe/transport/diagnostics.hpp"
#include "troupe/transport/transport_errc.hpp"

namespace troupe::transport::internal {

io_runtime::~io_runtime() = default;
frame_sink::~frame_sink() = default;
connection_io::~connection_io() = default;
listener_io::~listener_io() = default;

// -- connection_io: the write buffer ---------------------------------------------

void connection_io::send_and_close(const std::string& bytes) {
  std::unique_lock<adaptive_mutex> guard{wmtx_};
  if (wclosed_)
    return;
  wclosed_ = true;
  graceful_ = true;
  close_after_write_ = true;
  wbuf_ += bytes;
  if (!writing_) {
    writing_ = true;
    guard.unlock();
    start_writing();
  }
}

void connection_io::close() {
  {
    std::lock_guard<adaptive_mutex> guard{wmtx_};
    if (graceful_)
      return; // send_and_close is already finishing the connection
    wclosed_ = true;
    wbuf_.clear();
  }
  start_closing();
}

std::string connection_io::remote_address() const {
  std::lock_guard<adaptive_mutex> guard{wmtx_};
  return address_;
}

void connection_io::flush() {
  {
    std::lock_guard<adaptive_mutex> guard{wmtx_};
    flush_pending_ = false;
    if (writing_ || wbuf_.empty())
      return;
    writing_ = true;
  }
  start_writing();
}

bool connection_io::take_pending(std::string& out, bool& close_after) {
  std::lock_guard<adaptive_mutex> guard{wmtx_};
  if (wbuf_.empty()) {
    writing_ = false;
    close_after = close_after_write_;
    close_after_write_ = false;
    return false;
  }
  out.swap(wbuf_);
  return true;
}

void connection_io::set_address(std::string x) {
  std::lock_guard<adaptive_mutex> guard{wmtx_};
  address_ = std::move(x);
}

caf::error connection_io::closed_error() {
  return caf::make_error(transport_errc::node_stopped, "connection closing");
}

caf::error connection_io::slow_peer_error(const std::string& address, size_t queued) {
  return caf::make_error(transport_errc::slow_peer,
                         (address.empty() ? std::string{"peer"} : address)
                           + " does not read: " + std::to_string(queued) + " bytes queued");
}

void connection_io::set_write_limit(size_t bytes) {
  std::lock_guard<adaptive_mutex> guard{wmtx_};
  write_limit_ = bytes;
}

namespace {

using asio::ip::tcp;
using strand_type = asio::strand<asio::io_context::executor_type>;

// -- runtime --------------------------------------------------------------------

std::atomic<size_t> live_runtimes{0};

class asio_runtime : public io_runtime {
public:
  explicit asio_runtime(uint32_t threads) : guard_(asio::make_work_guard(ctx_)) {
    ++live_runtimes;
    for (uint32_t i = 0; i < threads; ++i)
      threads_.emplace_back([this] {
        ctx_.run();
        done_.fetch_add(1);
      });
  }

  ~asio_runtime() override {
    shutdown(std::chrono::seconds{1});
    --live_runtimes;
  }

  void shutdown(caf::timespan bound) override {
    std::lock_guard<std::mutex> guard{mtx_};
    if (threads_.empty())
      return;
    // Without the guard, run() returns as soon as no handler is pending,
    // i.e. once every socket is closed and its last handler ran.
    guard_.reset();
    auto deadline = std::chrono::steady_clock::now() + bound;
    // Polls a counter: joining is the only wait std::thread offers, and it
    // has no timeout. Ends early in the normal case.
    while (done_.load() < threads_.size() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    if (done_.load() < threads_.size()) {
      actors::logger("troupe.transport")
        ->warn("I/O threads still busy after {}; stopping them", caf::deep_to_string(bound));
      ctx_.stop();
    }
    for (auto& t : threads_)
      t.join();
    threads_.clear();
  }

  asio::io_context& context() noexcept {
    return ctx_;
  }

private:
  asio::io_context ctx_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::atomic<uint32_t> done_{0};
  std::vector<std::thread> threads_;
  std::mutex mtx_;
};

asio_runtime& native(const io_runtime_ptr& rt) {
  return static_cast<asio_runtime&>(*rt);
}

std::string to_address(const tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

// -- connection -------------------------------------------------------------------

/// Runs `connection_io::flush` as a job on a CAF scheduler thread.
class flush_job final : public caf::resumable, public caf::ref_counted {
public:
  explicit flush_job(std::weak_ptr<connection_io> conn) : conn_(std::move(conn)) {
    // nop
  }

  subtype_t subtype() const override {
    return resumable::function_object;
  }

  resume_result resume(caf::execution_unit*, size_t) override {
    if (auto conn = conn_.lock())
      conn->flush();
    return resumable::done;
  }

  void intrusive_ptr_add_ref_impl() override {
    ref();
  }

  void intrusive_ptr_release_impl() override {
    deref();
  }

private:
  std::weak_ptr<connection_io> conn_;
};

class tcp_connection : public connection_io,
                       public std::enable_shared_from_this<tcp_connection> {
public:
  tcp_connection(io_runtime_ptr rt, strand_type strand, uint32_t max_frame_size)
    : rt_(std::move(rt)),
      strand_(strand),
      socket_(strand_),
      resolver_(strand_),
      linger_(strand_),
      decoder_(max_frame_size),
      read_buf_(64 * 1024) {
    // nop
  }

  /// The socket, for an acceptor to accept into (on this strand).
  tcp::socket& socket() noexcept {
    return socket_;
  }

  /// Called once an acceptor filled `socket()`.
  void accepted() {
    asio::error_code ec;
    socket_.set_option(tcp::no_delay{true}, ec);
    auto ep = socket_.remote_endpoint(ec);
    if (!ec)
      set_address(to_address(ep));
  }

  void connect(frame_sink_ptr sink, std::string host, uint16_t port) override {
    set_address(host + ":" + std::to_string(port));
    asio::post(strand_,
               [self = shared_from_this(), sink = std::move(sink), host = std::move(host),
                port]() mutable {
                 if (self->stopped_)
                   return;
                 self->sink_ = std::move(sink);
                 self->resolver_.async_resolve(
                   host, std::to_string(port),
                   [self](const asio::error_code& ec, tcp::resolver::results_type results) {
                     if (self->stopped_)
                       return;
                     if (ec)
                       return self->report(caf::make_error(transport_errc::connect_failed,
                                                           self->remote_address(),
                                                           "resolve: " + ec.message()));
                     asio::async_connect(
                       self->socket_, results,
                       [self](const asio::error_code& ec, const tcp::endpoint&) {
                         self->on_connected(ec);
                       });
                   });
               });
  }

  void start(frame_sink_ptr sink) override {
    asio::post(strand_, [self = shared_from_this(), sink = std::move(sink)]() mutable {
      if (self->stopped_)
        return;
      self->sink_ = std::move(sink);
      self->read_some();
    });
  }

  void raise_frame_limit(uint32_t max_frame_size) override {
    asio::post(strand_, [self = shared_from_this(), max_frame_size] {
      self->decoder_.set_max_frame_size(max_frame_size);
    });
  }

  void resume() override {
    asio::post(strand_, [self = shared_from_this()] {
      if (self->stopped_ || self->lingering_ || !self->paused_)
        return;
      self->paused_ = false;
      self->drain();
    });
  }

protected:
  /// Sends on the calling thread while the socket takes everything; hands
  /// the rest to the I/O thread.
  void start_writing() override {
    bool close_after = false;
    // A few rounds pick up what other threads appended meanwhile; beyond
    // that the I/O thread takes over, so no caller loops for long.
    for (int round = 0; round < 4; ++round) {
      if (!take_pending(direct_, close_after)) {
        if (close_after)
          asio::post(strand_, [self = shared_from_this()] { self->start_linger(); });
        return;
      }
      size_t sent = 0;
      int err = send_now(direct_, sent);
      if (err != 0 || sent < direct_.size()) {
        // Hand over to the I/O thread: the rest, or the error.
        direct_.erase(0, sent);
        asio::post(strand_, [self = shared_from_this(), rest = std::move(direct_), err] {
          self->continue_writing(std::move(rest), err);
        });
        direct_ = std::string{};
        return;
      }
      direct_.clear();
    }
    asio::post(strand_, [self = shared_from_this()] { self->write_some(); });
  }

  void flush_later(caf::execution_unit* host) override {
    // Only one flush is ever pending (see connection_io::write), so the job
    // is created once and reused; each scheduling holds a reference.
    if (!flusher_)
      flusher_ = caf::make_counted<flush_job>(weak_from_this());
    intrusive_ptr_add_ref(flusher_.get());
    host->exec_later(flusher_.get());
  }

  void start_closing() override {
    asio::post(strand_, [self = shared_from_this()] { self->shut(); });
  }

  void abort(caf::error err) override {
    asio::post(strand_, [self = shared_from_this(), err = std::move(err)]() mutable {
      self->report(std::move(err));
      self->shut();
    });
  }

private:
  // -- on the strand only ---------------------------------------------------

  void on_connected(const asio::error_code& ec) {
    if (stopped_)
      return;
    if (ec)
      return report(
        caf::make_error(transport_errc::connect_failed, remote_address(), ec.message()));
    asio::error_code ignored;
    socket_.set_option(tcp::no_delay{true}, ignored);
    if (sink_)
      sink_->on_connected();
    read_some();
  }

  void read_some() {
    reading_ = true;
    socket_.async_read_some(asio::buffer(read_buf_),
                            [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                              self->on_read(ec, n);
                            });
  }

  void on_read(const asio::error_code& ec, size_t n) {
    reading_ = false;
    if (stopped_ || lingering_) {
      if (lingering_ && !ec)
        read_some(); // discard until the peer closes or the linger timer fires
      else if (lingering_)
        shut();
      return;
    }
    if (ec) {
      if (ec == asio::error::eof) {
        auto err = decoder_.finish();
        if (!err)
          err = caf::make_error(transport_errc::peer_lost, "connection closed by peer");
        return report(std::move(err));
      }
      return report(caf::make_error(transport_errc::peer_lost, ec.message()));
    }
    decoder_.feed(read_buf_.data(), n);
    drain();
  }

  /// Hands every complete buffered frame to the sink (until it pauses), then
  /// reads on unless paused.
  void drain() {
    if (!sink_)
      return;
    caf::error failure;
    while (!paused_) {
      std::string_view frame;
      auto st = decoder_.next(frame);
      if (st == frame_decoder::status::frame) {
        if (sink_->on_frame(frame, failure) == frame_sink::verdict::pause)
          paused_ = true;
        if (failure)
          break;
      } else if (st == frame_decoder::status::need_more) {
        break;
      } else {
        failure = decoder_.error();
        break;
      }
    }
    sink_->on_batch_end();
    if (failure)
      return report(std::move(failure));
    if (!paused_)
      read_some();
  }

  /// Reports the end of the connection once; stops reading.
  void report(caf::error err) {
    if (reported_)
      return;
    reported_ = true;
    if (sink_)
      sink_->on_closed(std::move(err));
  }

  /// Non-blocking send of `bytes` on the caller's thread; sets `sent`.
  /// Returns 0 or an errno (EAGAIN counts as 0 with a partial `sent`).
  int send_now(const std::string& bytes, size_t& sent) {
    std::lock_guard<std::mutex> guard{fd_mtx_};
    if (fd_closed_)
      return EPIPE;
    auto fd = socket_.native_handle();
    while (sent < bytes.size()) {
      auto n =
        ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
      return n < 0 ? errno : EPIPE;
    }
    return 0;
  }

  /// On the strand: writes what a direct send left over (or reports its
  /// error), then goes on with the buffer.
  void continue_writing(std::string rest, int err) {
    if (stopped_)
      return;
    if (err != 0) {
      report(caf::make_error(transport_errc::peer_lost,
                             std::string{"write: "} + std::strerror(err)));
      return shut();
    }
    active_ = std::move(rest);
    async_write_active();
  }

  void write_some() {
    if (stopped_)
      return;
    bool close_after = false;
    if (!take_pending(active_, close_after)) {
      if (close_after)
        start_linger();
      return;
    }
    async_write_active();
  }

  void async_write_active() {
    asio::async_write(
      socket_, asio::buffer(active_),
      [self = shared_from_this()](const asio::error_code& ec, size_t) {
        if (self->stopped_)
          return;
        if (ec) {
          self->report(caf::make_error(transport_errc::peer_lost, "write: " + ec.message()));
          return self->shut();
        }
        self->active_.clear();
        self->write_some();
      });
  }

  /// Graceful close: everything queued is written; half-close so the peer
  /// reads it all, then wait (bounded) for the peer to close its side, so a
  /// reset cannot discard the last frame (e.g. an error frame).
  void start_linger() {
    asio::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec)
      return shut();
    lingering_ = true;
    reported_ = true; // the owner already decided to close
    sink_ = nullptr;
    paused_ = false;
    if (!reading_)
      read_some(); // discards until the peer closes
    linger_.expires_after(std::chrono::seconds{1});
    linger_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (!ec)
        self->shut();
    });
  }

  void shut() {
    if (stopped_)
      return;
    stopped_ = true;
    asio::error_code ec;
    resolver_.cancel();
    linger_.cancel();
    {
      // A direct send on another thread must not see the descriptor closed
      // (and perhaps reused) under it.
      std::lock_guard<std::mutex> guard{fd_mtx_};
      fd_closed_ = true;
      socket_.shutdown(tcp::socket::shutdown_both, ec);
      socket_.close(ec);
    }
    sink_ = nullptr;
  }

  io_runtime_ptr rt_; // keeps the io_context alive as long as this socket
  strand_type strand_;
  tcp::socket socket_;
  tcp::resolver resolver_;
  asio::steady_timer linger_;
  frame_decoder decoder_;
  std::vector<char> read_buf_;
  frame_sink_ptr sink_;
  bool stopped_ = false;
  bool reported_ = false;
  bool lingering_ = false;
  bool paused_ = false;
  bool reading_ = false;
  /// The I/O thread's write buffer.
  std::string active_;

  // -- the writer role (see connection_io) ----------------------------------
  /// The buffer of a direct send; used by whoever holds the writer role.
  std::string direct_;
  /// Runs `flush()` at the end of a CAF activation.
  caf::intrusive_ptr<flush_job> flusher_;

  // -- guarded by fd_mtx_ ---------------------------------------------------------
  std::mutex fd_mtx_;
  bool fd_closed_ = false;
};

// -- listener ---------------------------------------------------------------------

class tcp_listener : public listener_io, public std::enable_shared_from_this<tcp_listener> {
public:
  tcp_listener(io_runtime_ptr rt, tcp::acceptor acceptor, uint32_t max_frame_size)
    : rt_(std::move(rt)),
      acceptor_(std::move(acceptor)),
      max_frame_size_(max_frame_size),
      port_(acceptor_.local_endpoint().port()) {
    // nop
  }

  void start(caf::actor owner) override {
    command([owner](tcp_listener& self) mutable {
      self.owner_ = std::move(owner);
      for (auto& conn : self.held_)
        caf::anon_send(self.owner_, accepted_atom::value, connection_io_ptr{conn});
      self.held_.clear();
      if (!self.accepting_) {
        self.accepting_ = true;
        self.accept();
      }
    });
  }

  void close() override {
    command([](tcp_listener& self) {
      self.stopped_ = true;
      asio::error_code ec;
      self.acceptor_.close(ec);
      self.owner_ = nullptr;
      self.held_.clear(); // closes them
    });
  }

  void detach() override {
    command([](tcp_listener& self) { self.owner_ = nullptr; });
  }

  uint16_t port() const override {
    return port_;
  }

private:
  /// Runs `f` on the listener's strand. Commands capture the listener
  /// weakly: a command posted after the I/O threads ran out of work stays
  /// queued forever, and a strong reference in it would keep the listener,
  /// and through it the runtime, alive (a leak found by a test). A listener
  /// nobody holds is closed already.
  template <class F>
  void command(F f) {
    asio::post(acceptor_.get_executor(),
               [weak = weak_from_this(), f = std::move(f)]() mutable {
                 if (auto self = weak.lock())
                   f(*self);
               });
  }

  void accept() {
    if (stopped_)
      return;
    // Each connection gets its own strand; accept straight into its socket.
    auto conn = std::make_shared<tcp_connection>(rt_, asio::make_strand(native(rt_).context()),
                                                 max_frame_size_);
    acceptor_.async_accept(conn->socket(),
                           [self = shared_from_this(), conn](const asio::error_code& ec) {
                             self->on_accept(ec, conn);
                           });
  }

  void on_accept(const asio::error_code& ec, const std::shared_ptr<tcp_connection>& conn) {
    if (stopped_ || ec == asio::error::operation_aborted)
      return;
    if (ec) {
      // E.g. out of file descriptors: log and keep serving.
      actors::logger("troupe.transport")->warn("accept failed: {}", ec.message());
    } else {
      conn->accepted();
      if (owner_)
        caf::anon_send(owner_, accepted_atom::value, connection_io_ptr{conn});
      else if (held_.size() < max_held)
        held_.push_back(conn);
      else
        actors::logger("troupe.transport")
          ->warn("listener restarting: {} connections waiting already, closing a new one",
                 held_.size());
    }
    accept();
  }

  io_runtime_ptr rt_;
  tcp::acceptor acceptor_;
  uint32_t max_frame_size_;
  uint16_t port_;
  caf::actor owner_;
  /// Accepted while no owner: bounded, like the kernel's backlog.
  static constexpr size_t max_held = 128;
  std::vector<std::shared_ptr<tcp_connection>> held_;
  bool stopped_ = false;
  bool accepting_ = false;
};

} // namespace

} // namespace troupe::transport::internal

namespace troupe::transport {

size_t live_io_runtimes() noexcept {
  return internal::live_runtimes.load();
}

} // namespace troupe::transport

namespace troupe::transport::internal {

io_runtime_ptr make_io_runtime(uint32_t threads) {
  return std::make_shared<asio_runtime>(threads);
}

connection_io_ptr make_tcp_connection(const io_runtime_ptr& rt, uint32_t max_frame_size) {
  auto strand = asio::make_strand(native(rt).context());
  return std::make_shared<tcp_connection>(rt, strand, max_frame_size);
}

caf::expected<listener_io_ptr> make_tcp_listener(const io_runtime_ptr& rt,
                                                 const std::string& host, uint16_t port,
                                                 uint32_t max_frame_size) {
  auto where = host + ":" + std::to_string(port);
  asio::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec)
    return caf::make_error(transport_errc::listen_failed, where,
                           "not an IP address: " + ec.message());
  tcp::endpoint ep{addr, port};
  tcp::acceptor acceptor{asio::make_strand(native(rt).context())};
  acceptor.open(ep.protocol(), ec);
  if (!ec)
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec)
    acceptor.bind(ep, ec);
  if (!ec)
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return caf::make_error(transport_errc::listen_failed, where, ec.message());
  return listener_io_ptr{
    std::make_shared<tcp_listener>(rt, std::move(acceptor), max_frame_size)};
}

} // namespace troupe::transport::internal
