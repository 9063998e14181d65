// The raw baselines of bench/transport and bench/services (raw_asio.hpp).

#include "raw_asio.hpp"

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>

#include "bench.pb.h"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using transport_bench::v1::Blob;

namespace {

Blob make_blob(uint64_t seq) {
  Blob b;
  b.set_seq(seq);
  b.set_data(std::string(64, 'x'));
  return b;
}

/// Parses length-delimited Blobs out of `buf` from `pos`; calls f per Blob.
template <class F>
void for_each_frame(std::string& buf, F f) {
  size_t pos = 0;
  for (;;) {
    uint64_t len = 0;
    size_t i = pos;
    int shift = 0;
    bool complete = false;
    while (i < buf.size()) {
      auto byte = static_cast<uint8_t>(buf[i++]);
      len |= uint64_t(byte & 0x7F) << shift;
      if (!(byte & 0x80)) {
        complete = true;
        break;
      }
      shift += 7;
    }
    if (!complete || buf.size() - i < len)
      break;
    Blob b;
    b.ParseFromArray(buf.data() + i, static_cast<int>(len));
    f(b);
    pos = i + len;
  }
  buf.erase(0, pos);
}

void append_frame(const Blob& b, std::string& out) {
  auto body = b.SerializeAsString();
  auto n = body.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7F) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  out += body;
}

/// One side of a pipelined connection: reads frames, lets `on_frame` append
/// answers to the output buffer, writes whenever it is idle.
struct pipe_end : std::enable_shared_from_this<pipe_end> {
  explicit pipe_end(asio::ip::tcp::socket s) : sock(std::move(s)), rbuf(65536) {}
  asio::ip::tcp::socket sock;
  std::vector<char> rbuf;
  std::string in;
  std::string out;
  std::string writing;
  bool busy = false;
  bool stopped = false;
  std::function<void(const Blob&, std::string&)> on_frame;

  void read() {
    sock.async_read_some(asio::buffer(rbuf), [self = shared_from_this()](auto ec, size_t n) {
      if (ec || self->stopped)
        return;
      self->in.append(self->rbuf.data(), n);
      for_each_frame(self->in, [&](const Blob& b) { self->on_frame(b, self->out); });
      self->flush();
      self->read();
    });
  }

  void flush() {
    if (busy || out.empty() || stopped)
      return;
    busy = true;
    writing.swap(out);
    out.clear();
    asio::async_write(sock, asio::buffer(writing),
                      [self = shared_from_this()](auto ec, size_t) {
                        self->busy = false;
                        self->writing.clear();
                        if (!ec)
                          self->flush();
                      });
  }
};

} // namespace

double raw_echo_req_per_s(int seconds, int outstanding) {
  asio::io_context server_ctx;
  asio::io_context client_ctx;
  asio::ip::tcp::acceptor acceptor{server_ctx, {asio::ip::make_address("127.0.0.1"), 0}};
  auto port = acceptor.local_endpoint().port();
  std::shared_ptr<pipe_end> server;
  acceptor.async_accept([&](auto ec, asio::ip::tcp::socket s) {
    if (ec)
      return;
    s.set_option(asio::ip::tcp::no_delay{true});
    server = std::make_shared<pipe_end>(std::move(s));
    server->on_frame = [](const Blob& b, std::string& out) { append_frame(b, out); };
    server->read();
  });
  std::thread server_thread{[&] { server_ctx.run(); }};
  asio::ip::tcp::socket sock{client_ctx};
  sock.connect({asio::ip::make_address("127.0.0.1"), port});
  sock.set_option(asio::ip::tcp::no_delay{true});
  auto client = std::make_shared<pipe_end>(std::move(sock));
  uint64_t next = 0;
  uint64_t measured = 0;
  bool measuring = false;
  auto warmup_end = clock_type::now() + 1s;
  auto stop_at = warmup_end + std::chrono::seconds{seconds};
  clock_type::time_point started;
  double rps = 0;
  int in_flight = outstanding;
  client->on_frame = [&](const Blob&, std::string& out) {
    auto now = clock_type::now();
    if (!measuring && now >= warmup_end) {
      measuring = true;
      started = now;
    }
    if (measuring)
      ++measured;
    if (now < stop_at) {
      append_frame(make_blob(next++), out);
    } else if (--in_flight == 0) {
      rps = measured / std::chrono::duration<double>(now - started).count();
      client->stopped = true;
      client_ctx.stop();
    }
  };
  for (int i = 0; i < outstanding; ++i)
    append_frame(make_blob(next++), client->out);
  client->flush();
  client->read();
  client_ctx.run();
  asio::error_code ignored;
  client->sock.close(ignored);
  server_ctx.stop();
  server_thread.join();
  return rps;
}

double raw_stream_items_per_s(uint64_t items) {
  // A ceiling, so written for speed: one Blob reused on each side, frames
  // serialized straight into the write buffer and parsed straight from the
  // read buffer.
  asio::io_context ctx;
  asio::ip::tcp::acceptor acceptor{ctx, {asio::ip::make_address("127.0.0.1"), 0}};
  auto port = acceptor.local_endpoint().port();
  uint64_t sum = 0;
  uint64_t received = 0;
  std::thread receiver{[&] {
    asio::ip::tcp::socket sock{ctx};
    acceptor.accept(sock);
    std::vector<char> buf(1 << 17);
    size_t begin = 0;
    size_t end = 0;
    Blob b;
    asio::error_code ec;
    while (received < items) {
      if (begin > 0 && buf.size() - end < (1 << 16)) {
        std::memmove(buf.data(), buf.data() + begin, end - begin);
        end -= begin;
        begin = 0;
      }
      auto n = sock.read_some(asio::buffer(buf.data() + end, buf.size() - end), ec);
      if (ec)
        break;
      end += n;
      for (;;) {
        uint64_t len = 0;
        size_t i = begin;
        int shift = 0;
        bool complete = false;
        while (i < end) {
          auto byte = static_cast<uint8_t>(buf[i++]);
          len |= uint64_t(byte & 0x7F) << shift;
          if (!(byte & 0x80)) {
            complete = true;
            break;
          }
          shift += 7;
        }
        if (!complete || end - i < len)
          break;
        b.ParseFromArray(buf.data() + i, static_cast<int>(len));
        sum += b.seq();
        ++received;
        begin = i + len;
      }
    }
  }};
  asio::ip::tcp::socket sock{ctx};
  sock.connect({asio::ip::make_address("127.0.0.1"), port});
  auto started = clock_type::now();
  std::vector<uint8_t> out(1 << 16);
  size_t used = 0;
  Blob b;
  for (uint64_t seq = 1; seq <= items; ++seq) {
    b.set_seq(seq);
    auto size = b.ByteSizeLong();
    if (out.size() - used < size + 10) {
      asio::write(sock, asio::buffer(out.data(), used));
      used = 0;
    }
    auto* p = out.data() + used;
    for (auto n = size;; n >>= 7) {
      *p++ = static_cast<uint8_t>((n & 0x7F) | (n >= 0x80 ? 0x80 : 0));
      if (n < 0x80)
        break;
    }
    p = b.SerializeWithCachedSizesToArray(p);
    used = static_cast<size_t>(p - out.data());
  }
  asio::write(sock, asio::buffer(out.data(), used));
  receiver.join();
  auto secs = std::chrono::duration<double>(clock_type::now() - started).count();
  if (received != items || sum != items * (items + 1) / 2)
    return 0;
  return static_cast<double>(items) / secs;
}
