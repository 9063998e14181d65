// The TCP implementation of io.hpp on standalone Asio, with TLS through
// Asio's SSL streams over OpenSSL. The only translation unit that includes
// Asio.

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <caf/execution_unit.hpp>
#include <caf/make_counted.hpp>
#include <caf/ref_counted.hpp>
#include <caf/resumable.hpp>
#include <caf/send.hpp>
#include <troupe/actors/human_units.hpp>

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
  ++wframes_;
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
    wframes_ = 0;
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
  if (counters_ != nullptr) {
    counters_->frames_out.fetch_add(wframes_, std::memory_order_relaxed);
    counters_->bytes_out.fetch_add(out.size(), std::memory_order_relaxed);
  }
  wframes_ = 0;
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

// -- TLS context ------------------------------------------------------------------

class tls_context {
public:
  explicit tls_context(tls_verify verify) : ctx(asio::ssl::context::tls), verify(verify) {
    // nop
  }

  asio::ssl::context ctx;
  tls_verify verify;
};

caf::expected<tls_context_ptr> make_tls_context(const tls_config& cfg) {
  auto result = std::make_shared<tls_context>(cfg.verify);
  auto& ctx = result->ctx;
  auto bad = [](const std::string& what, const asio::error_code& ec) {
    return caf::make_error(transport_errc::invalid_config,
                           "tls: " + what + ": " + ec.message());
  };
  asio::error_code ec;
  // TLS 1.2 and later only; no renegotiation, no compression.
  if (SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION) != 1)
    return caf::make_error(transport_errc::invalid_config, "tls: cannot require TLS 1.2");
  SSL_CTX_set_options(ctx.native_handle(), SSL_OP_NO_RENEGOTIATION);
  ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression
                    | asio::ssl::context::single_dh_use,
                  ec);
  if (!cfg.certificate_file.empty()) {
    ctx.use_certificate_chain_file(cfg.certificate_file, ec);
    if (ec)
      return bad("certificate_file " + cfg.certificate_file, ec);
    ctx.use_private_key_file(cfg.private_key_file, asio::ssl::context::pem, ec);
    if (ec)
      return bad("private_key_file " + cfg.private_key_file, ec);
    if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
      return caf::make_error(transport_errc::invalid_config,
                             "tls: private_key_file " + cfg.private_key_file
                               + " does not match certificate_file " + cfg.certificate_file);
  }
  if (!cfg.ca_file.empty()) {
    ctx.load_verify_file(cfg.ca_file, ec);
    if (ec)
      return bad("ca_file " + cfg.ca_file, ec);
  }
  return result;
}

namespace {

using asio::ip::tcp;
using strand_type = asio::strand<asio::io_context::executor_type>;
using tls_stream = asio::ssl::stream<tcp::socket&>;

/// The fatal TLS alert "protocol_version" (a TLS 1.0 record header, level
/// fatal, description 70): what a plaintext node answers a TLS ClientHello
/// with before closing, so the TLS dialer learns why.
constexpr char plaintext_node_alert[] = {0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46};

/// The OpenSSL reason of `ec`, or 0 if it is not an SSL error.
int ssl_reason(const asio::error_code& ec) {
  if (ec.category() != asio::error::get_ssl_category())
    return 0;
  return ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
}

/// Whether `ec`, during a TLS handshake, means the peer does not speak TLS:
/// it answered in plaintext (a Troupe frame), or with the protocol_version
/// alert a plaintext Troupe node sends.
bool peer_speaks_plaintext(const asio::error_code& ec) {
  switch (ssl_reason(ec)) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      return true;
    default:
      return false;
  }
}

/// The typed error of a failed TLS handshake (`handshaking`) or of TLS
/// breaking later.
caf::error tls_error(const asio::error_code& ec, SSL* ssl, bool handshaking,
                     const std::string& peer) {
  // The verify result names what was wrong with the peer's certificate, but
  // only if checking it is what failed (with verify = none OpenSSL still
  // records a result that caused nothing).
  if (ssl_reason(ec) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    auto verdict = SSL_get_verify_result(ssl);
    if (verdict != X509_V_OK)
      return caf::make_error(transport_errc::tls_failed,
                             peer
                               + "'s certificate: " + X509_verify_cert_error_string(verdict));
  }
  if (handshaking && peer_speaks_plaintext(ec))
    return caf::make_error(transport_errc::tls_mismatch,
                           peer + " does not answer in TLS (" + ec.message() + ")");
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
      || ec == asio::error::connection_reset)
    return caf::make_error(transport_errc::peer_lost,
                           peer + " closed the connection"
                             + (handshaking ? " during the TLS handshake" : ""));
  return caf::make_error(transport_errc::tls_failed, peer + ": " + ec.message());
}

/// Whether `bytes` start like a TLS record (a handshake record, 0x16, of
/// TLS major version 3). A Troupe frame never does: its varint length
/// prefix may be 0x16, but the next byte, the Frame's first field tag,
/// cannot be 0x03 (field number 0 does not exist).
bool starts_like_tls(const char* bytes, size_t n) {
  return n >= 1 && static_cast<unsigned char>(bytes[0]) == 0x16
    && (n < 2 || static_cast<unsigned char>(bytes[1]) == 0x03);
}

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
        ->warn("I/O threads still busy after {}; stopping them",
               troupe::actors::human_duration(bound));
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
  tcp_connection(io_runtime_ptr rt, strand_type strand, uint32_t max_frame_size,
                 tls_context_ptr tls)
    : rt_(std::move(rt)),
      strand_(strand),
      socket_(strand_),
      resolver_(strand_),
      linger_(strand_),
      decoder_(max_frame_size),
      read_buf_(64 * 1024),
      tls_ctx_(std::move(tls)) {
    if (tls_ctx_) {
      tls_.emplace(socket_, tls_ctx_->ctx);
      tls_phase_ = tls_phase::pending;
    }
    counters_ = &rt_->counters();
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
                 self->dialed_host_ = host;
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
      if (self->tls_phase_ == tls_phase::pending)
        return self->accept_tls();
      if (self->tls_phase_ != tls_phase::negotiating && !self->reading_)
        self->read_some();
    });
  }

  bool encrypted() const noexcept override {
    return encrypted_.load();
  }

  std::string channel_binding() const override {
    // Written once, before `encrypted_` was set.
    return encrypted_.load() ? binding_ : std::string{};
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
    if (tls_ctx_) {
      // OpenSSL's SSL object is not to be used from two threads at once:
      // with TLS, only the I/O thread (the strand) writes.
      asio::post(strand_, [self = shared_from_this()] { self->write_some(); });
      return;
    }
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
    if (tls_phase_ == tls_phase::pending)
      return dial_tls();
    if (sink_)
      sink_->on_connected();
    read_some();
  }

  // -- TLS (on the strand) ----------------------------------------------------

  /// The dialing side: checks the acceptor's certificate (by `verify`) and
  /// that it names the dialed address, then handshakes.
  void dial_tls() {
    tls_phase_ = tls_phase::negotiating;
    auto* ssl = tls_->native_handle();
    asio::error_code not_ip;
    asio::ip::make_address(dialed_host_, not_ip);
    if (not_ip)
      SSL_set_tlsext_host_name(ssl, dialed_host_.c_str()); // SNI carries names only
    if (tls_ctx_->verify == tls_verify::none) {
      tls_->set_verify_mode(asio::ssl::verify_none);
    } else {
      tls_->set_verify_mode(asio::ssl::verify_peer);
      auto named = false;
      if (!not_ip) {
        named = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), dialed_host_.c_str()) == 1;
      } else {
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        named = SSL_set1_host(ssl, dialed_host_.c_str()) == 1;
      }
      if (!named)
        return report(
          caf::make_error(transport_errc::tls_failed,
                          "cannot check a certificate against \"" + dialed_host_ + "\""));
    }
    tls_->async_handshake(
      asio::ssl::stream_base::client,
      [self = shared_from_this()](const asio::error_code& ec) { self->on_tls_dialed(ec); });
  }

  void on_tls_dialed(const asio::error_code& ec) {
    if (stopped_)
      return;
    if (ec)
      return fail_tls(ec);
    secure_up();
    if (sink_)
      sink_->on_connected();
    read_some();
    if (write_waiting_)
      write_some();
  }

  /// The accepting side: a peer whose first bytes are not a TLS record
  /// stays plaintext (for the handshake to refuse it with a Refusal it can
  /// read); a TLS peer is handshaken with.
  void accept_tls() {
    tls_phase_ = tls_phase::negotiating;
    socket_.async_wait(
      tcp::socket::wait_read,
      [self = shared_from_this()](const asio::error_code& ec) { self->on_first_bytes(ec); });
  }

  void on_first_bytes(const asio::error_code& ec) {
    if (stopped_)
      return;
    if (ec)
      return report(caf::make_error(transport_errc::peer_lost, ec.message()));
    char first[2];
    asio::error_code peek_ec;
    auto n = socket_.receive(asio::buffer(first), tcp::socket::message_peek, peek_ec);
    if (peek_ec == asio::error::would_block)
      return accept_tls(); // spurious wake-up
    if (peek_ec || n == 0)
      return report(caf::make_error(transport_errc::peer_lost, "connection closed by peer"));
    if (!starts_like_tls(first, n)) {
      tls_.reset();
      tls_phase_ = tls_phase::none;
      return secured();
    }
    if (tls_ctx_->verify == tls_verify::mutual)
      tls_->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
    else
      tls_->set_verify_mode(asio::ssl::verify_none);
    tls_->async_handshake(asio::ssl::stream_base::server,
                          [self = shared_from_this()](const asio::error_code& ec) {
                            if (self->stopped_)
                              return;
                            if (ec)
                              return self->fail_tls(ec);
                            self->secure_up();
                            self->secured();
                          });
  }

  /// The accepted connection's TLS question is settled: read (if started)
  /// and write what waited.
  void secured() {
    if (sink_ && !reading_)
      read_some();
    if (write_waiting_)
      write_some();
  }

  /// The TLS handshake succeeded: exports the channel binding, then marks
  /// the connection encrypted (in that order: see `channel_binding`).
  void secure_up() {
    static constexpr char label[] = "EXPORTER-troupe-v1";
    unsigned char out[32];
    if (SSL_export_keying_material(tls_->native_handle(), out, sizeof(out), label,
                                   sizeof(label) - 1, nullptr, 0, 0)
        == 1)
      binding_.assign(reinterpret_cast<const char*>(out), sizeof(out));
    tls_phase_ = tls_phase::up;
    encrypted_ = true;
  }

  /// The TLS handshake failed: reports why, then closes without a reset
  /// (OpenSSL already queued its alert; closing with the peer's unread bytes
  /// in the socket would reset the connection, which can discard the alert).
  void fail_tls(const asio::error_code& ec) {
    auto err =
      tls_error(ec, tls_->native_handle(), tls_phase_ != tls_phase::up, remote_address());
    if (!sink_) // refused before its actor started: nobody else logs it
      actors::logger("troupe.transport")->info("TLS: {}", caf::to_string(err.context()));
    report(std::move(err));
    tls_.reset(); // nothing is pending on it: its handshake just completed
    tls_phase_ = tls_phase::none;
    start_linger();
  }

  /// Bytes wait for TLS to come up: a peer that never completes its side of
  /// the TLS handshake (say, on a connection refused before its actor
  /// started) must not hold the socket. After `tls_wait_bound` it is closed.
  void bound_tls_wait() {
    if (tls_wait_armed_)
      return;
    tls_wait_armed_ = true;
    linger_.expires_after(tls_wait_bound);
    linger_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (ec || self->stopped_ || self->tls_phase_ == tls_phase::up
          || self->tls_phase_ == tls_phase::none)
        return;
      self->report(caf::make_error(transport_errc::handshake_timeout,
                                   "no TLS handshake within "
                                     + std::to_string(tls_wait_bound.count()) + " s"));
      self->shut();
    });
  }

  static constexpr std::chrono::seconds tls_wait_bound{2};

  // -- reading (on the strand) -------------------------------------------------

  void read_some() {
    reading_ = true;
    auto done = [self = shared_from_this()](const asio::error_code& ec, size_t n) {
      self->on_read(ec, n);
    };
    if (tls_)
      tls_->async_read_some(asio::buffer(read_buf_), std::move(done));
    else
      socket_.async_read_some(asio::buffer(read_buf_), std::move(done));
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
      // A TLS peer that closes without TLS's close_notify is an EOF here:
      // frames are length-delimited, so truncation is detected by framing.
      if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
        auto err = decoder_.finish();
        if (!err)
          err = caf::make_error(transport_errc::peer_lost, "connection closed by peer");
        return report(std::move(err));
      }
      if (tls_ && ec.category() == asio::error::get_ssl_category())
        return report(tls_error(ec, tls_->native_handle(), false, remote_address()));
      return report(caf::make_error(transport_errc::peer_lost, ec.message()));
    }
    if (first_read_) {
      first_read_ = false;
      if (!tls_ && starts_like_tls(read_buf_.data(), n)) {
        // Tell the TLS peer in the one language it reads, then close.
        send_and_close(std::string{plaintext_node_alert, sizeof(plaintext_node_alert)});
        return report(caf::make_error(
          transport_errc::tls_mismatch,
          remote_address()
            + " speaks TLS; this node does not (troupe.node.tls.enabled is false)"));
      }
    }
    rt_->counters().bytes_in.fetch_add(n, std::memory_order_relaxed);
    decoder_.feed(read_buf_.data(), n);
    drain();
  }

  /// Hands every complete buffered frame to the sink (until it pauses), then
  /// reads on unless paused.
  void drain() {
    if (!sink_)
      return;
    caf::error failure;
    uint64_t frames = 0;
    while (!paused_) {
      std::string_view frame;
      auto st = decoder_.next(frame);
      if (st == frame_decoder::status::frame) {
        ++frames;
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
    rt_->counters().frames_in.fetch_add(frames, std::memory_order_relaxed);
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
    if (tls_phase_ == tls_phase::pending || tls_phase_ == tls_phase::negotiating) {
      // Bytes written before TLS is up (e.g. a Refusal to a connection
      // accepted over the limit) wait for it, boundedly.
      write_waiting_ = true;
      bound_tls_wait();
      if (tls_phase_ == tls_phase::pending && dialed_host_.empty())
        accept_tls();
      return;
    }
    write_waiting_ = false;
    if (writing_active_)
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
    writing_active_ = true;
    auto done = [self = shared_from_this()](const asio::error_code& ec, size_t) {
      self->writing_active_ = false;
      if (self->stopped_)
        return;
      if (ec) {
        if (self->tls_ && ec.category() == asio::error::get_ssl_category())
          self->report(
            tls_error(ec, self->tls_->native_handle(), false, self->remote_address()));
        else
          self->report(caf::make_error(transport_errc::peer_lost, "write: " + ec.message()));
        return self->shut();
      }
      self->active_.clear();
      self->write_some();
    };
    if (tls_)
      asio::async_write(*tls_, asio::buffer(active_), std::move(done));
    else
      asio::async_write(socket_, asio::buffer(active_), std::move(done));
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

  /// Where a connection configured for TLS is.
  enum class tls_phase : uint8_t {
    /// Plaintext: not configured for TLS, or an accepted plaintext peer.
    none,
    /// Configured; the TLS handshake has not started.
    pending,
    /// The TLS handshake (or, accepting, the look at the first bytes) runs.
    negotiating,
    /// Encrypted.
    up,
  };

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
  /// An `async_write` of `active_` is under way.
  bool writing_active_ = false;
  /// No read happened yet (a plaintext connection checks for TLS bytes).
  bool first_read_ = true;

  // -- TLS ------------------------------------------------------------------------
  tls_context_ptr tls_ctx_;
  /// Over `socket_`; engaged while the connection is (to be) encrypted.
  std::optional<tls_stream> tls_;
  tls_phase tls_phase_ = tls_phase::none;
  /// The host `connect` dialed (checked against the peer's certificate);
  /// empty for an accepted connection.
  std::string dialed_host_;
  /// Something was written before TLS was up.
  bool write_waiting_ = false;
  /// `bound_tls_wait` armed its timer.
  bool tls_wait_armed_ = false;
  /// See `channel_binding`.
  std::string binding_;
  std::atomic<bool> encrypted_{false};

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
  tcp_listener(io_runtime_ptr rt, tcp::acceptor acceptor, uint32_t max_frame_size,
               tls_context_ptr tls)
    : rt_(std::move(rt)),
      acceptor_(std::move(acceptor)),
      max_frame_size_(max_frame_size),
      port_(acceptor_.local_endpoint().port()),
      tls_(std::move(tls)) {
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
                                                 max_frame_size_, tls_);
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
  tls_context_ptr tls_;
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

connection_io_ptr make_tcp_connection(const io_runtime_ptr& rt, uint32_t max_frame_size,
                                      tls_context_ptr tls) {
  auto strand = asio::make_strand(native(rt).context());
  return std::make_shared<tcp_connection>(rt, strand, max_frame_size, std::move(tls));
}

caf::expected<listener_io_ptr> make_tcp_listener(const io_runtime_ptr& rt,
                                                 const std::string& host, uint16_t port,
                                                 uint32_t max_frame_size,
                                                 tls_context_ptr tls) {
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
    std::make_shared<tcp_listener>(rt, std::move(acceptor), max_frame_size, std::move(tls))};
}

} // namespace troupe::transport::internal
