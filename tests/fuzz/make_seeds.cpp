// troupe-fuzz-seeds <dir>: writes the seed corpus of every fuzz target under
// <dir>/<target>/, made by the real encoders (a complete handshake each way,
// framed frame streams, envelopes, payloads and stream batches), in each
// target's input format. Run once by hand when a format changes; the output
// is committed under tests/fuzz/corpus/ (scripts/fuzz reads it).

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <troupe/flow.pb.h>
#include <troupe/messages/type_registry.hpp>
#include <troupe/transport/detail/stream_codec.hpp>
#include <troupe/wire.pb.h>

#include "transport/src/envelope_writer.hpp"
#include "transport/src/framing.hpp"
#include "transport/src/handshake.hpp"

namespace fs = std::filesystem;
using namespace troupe::transport::internal;

namespace {

fs::path root;

void write(const std::string& target, const std::string& name, const std::string& bytes) {
  auto dir = root / target;
  fs::create_directories(dir);
  std::ofstream out{dir / name, std::ios::binary};
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string framed(const std::vector<troupe::wire::Frame>& frames) {
  std::string out;
  for (auto& f : frames)
    if (append_frame(f, 1u << 20, out))
      std::abort();
  return out;
}

/// The frame decoder's format: limit flag, raw flag, then (size, chunk)*.
std::string chunked(uint8_t limit_flag, uint8_t raw, const std::string& stream,
                    uint8_t chunk) {
  std::string out{static_cast<char>(limit_flag), static_cast<char>(raw)};
  for (size_t i = 0; i < stream.size(); i += chunk) {
    auto part = stream.substr(i, chunk);
    out += static_cast<char>(part.size() - 1);
    out += part;
  }
  return out;
}

/// Runs a real handshake between an initiator and an acceptor, both with
/// the fuzz targets' fixed nonce; returns what each side sent.
void record_handshake(bool secret, std::vector<troupe::wire::Frame>& by_initiator,
                      std::vector<troupe::wire::Frame>& by_acceptor) {
  handshake::params a;
  a.node_id = "seed-initiator";
  handshake::params b;
  b.node_id = "fuzz-node";
  b.listen_host = "127.0.0.1";
  b.listen_port = 4711;
  if (secret)
    a.secret = b.secret = "fuzz-secret";
  handshake initiator{handshake_role::initiator, a, std::string(16, 'n')};
  handshake acceptor{handshake_role::acceptor, b, std::string(16, 'n')};
  troupe::wire::Frame hello;
  initiator.start(hello);
  by_initiator.push_back(hello);
  troupe::wire::Frame in = hello;
  bool to_acceptor = true;
  for (int i = 0; i < 8 && !(initiator.done() && acceptor.done()); ++i) {
    troupe::wire::Frame reply;
    caf::error err;
    auto& side = to_acceptor ? acceptor : initiator;
    if (!side.handle(in, reply, err) || err)
      break;
    (to_acceptor ? by_acceptor : by_initiator).push_back(reply);
    in = reply;
    to_acceptor = !to_acceptor;
  }
}

std::string envelope(envelope_kind kind, const google::protobuf::MessageLite& payload,
                     const std::string& type) {
  std::string head;
  append_address_fields("node-a", "", "node-b", "pricing", head);
  std::string tail;
  append_trace_fields("trace-1", "req-1", 2, tail);
  envelope_view env;
  env.addresses = head;
  env.type = type;
  env.payload = &payload;
  env.correlation_id = 7;
  env.deadline_remaining_us = 500000;
  env.trace = tail;
  std::string framed_bytes;
  if (append_envelope_frame(kind, env, 1u << 20, framed_bytes))
    std::abort();
  // The reader takes the frame without its length prefix.
  frame_decoder dec{1u << 20};
  dec.feed(framed_bytes.data(), framed_bytes.size());
  std::string_view frame;
  if (dec.next(frame) != frame_decoder::status::frame)
    std::abort();
  return std::string{frame};
}

troupe::flow::Pull sample_pull(uint64_t id) {
  troupe::flow::Pull p;
  p.set_stream_id(id);
  p.set_credit(64);
  p.set_acked_through(id * 3);
  p.set_capacity(128);
  p.set_open(id % 2 == 0);
  return p;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: troupe-fuzz-seeds <corpus dir>\n");
    return 2;
  }
  root = argv[1];
  // Handshakes, both ways, open and authenticated.
  for (bool secret : {false, true}) {
    std::vector<troupe::wire::Frame> by_initiator;
    std::vector<troupe::wire::Frame> by_acceptor;
    record_handshake(secret, by_initiator, by_acceptor);
    auto tag = std::string{secret ? "secret" : "open"};
    auto flag = std::string(1, static_cast<char>(secret ? 1 : 0));
    write("handshake_acceptor", tag, flag + framed(by_initiator));
    write("handshake_initiator", tag, flag + framed(by_acceptor));
    auto both = framed(by_initiator) + framed(by_acceptor);
    write("frame_decoder", tag + "-parsed", chunked(0, 0, both, 7));
    write("frame_decoder", tag + "-raw", chunked(0, 1, both, 64));
  }
  // Envelopes and replies with a real payload; frame streams of them.
  auto pull = sample_pull(4);
  auto type = troupe::flow::Pull::descriptor()->full_name();
  auto request = envelope(envelope_kind::request, pull, type);
  auto reply = envelope(envelope_kind::reply, pull, type);
  write("envelope_reader", "request", request);
  write("envelope_reader", "reply", reply);
  write("frame_decoder", "envelopes-small-limit", chunked(1, 1, framed({}) + request, 5));
  // Payloads: each registered type (the first byte picks it by index).
  auto names = troupe::messages::type_registry::instance().names();
  for (size_t i = 0; i < names.size() && i < 255; ++i) {
    if (names[i] == type)
      write("payload", "pull",
            std::string(1, static_cast<char>(i)) + pull.SerializeAsString());
    else
      write("payload", "empty-" + std::to_string(i), std::string(1, static_cast<char>(i)));
  }
  // Stream batches of Pull items.
  for (uint32_t n : {1u, 5u, 64u}) {
    troupe::flow::Batch batch;
    batch.set_stream_id(9);
    batch.set_first_seq(100);
    batch.set_item_type(type);
    for (uint32_t i = 0; i < n; ++i)
      troupe::transport::detail::append_delimited(*batch.mutable_items(), sample_pull(i));
    batch.set_count(n);
    write("stream_batch", "items-" + std::to_string(n),
          std::string(1, static_cast<char>(16)) + batch.SerializeAsString());
  }
  std::printf("seeds written under %s\n", root.c_str());
  return 0;
}
