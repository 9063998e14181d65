#include "handshake.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <caf/message.hpp>

#include <troupe/messages/error_category.hpp>

#include "framing.hpp"
#include "troupe/transport/transport_errc.hpp"
#include "troupe/transport/wire_error.hpp"
#include "troupe/wire.pb.h"

namespace troupe::transport::internal {

namespace {

constexpr std::string_view acceptor_label = "troupe-v1/acceptor";
constexpr std::string_view initiator_label = "troupe-v1/initiator";

void append_field(std::string& out, std::string_view x) {
  auto n = static_cast<uint32_t>(x.size());
  out.push_back(static_cast<char>((n >> 24) & 0xFF));
  out.push_back(static_cast<char>((n >> 16) & 0xFF));
  out.push_back(static_cast<char>((n >> 8) & 0xFF));
  out.push_back(static_cast<char>(n & 0xFF));
  out.append(x.data(), x.size());
}

bool equal_proofs(const std::string& x, const std::string& y) {
  return x.size() == y.size() && !x.empty()
    && CRYPTO_memcmp(x.data(), y.data(), x.size()) == 0;
}

} // namespace

std::string handshake_proof(std::string_view secret, std::string_view label,
                            std::string_view hello_nonce, std::string_view challenge_nonce,
                            std::string_view initiator_id, std::string_view acceptor_id,
                            std::string_view channel_binding) {
  std::string input{label};
  append_field(input, hello_nonce);
  append_field(input, challenge_nonce);
  append_field(input, initiator_id);
  append_field(input, acceptor_id);
  if (!channel_binding.empty())
    append_field(input, channel_binding);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
  return std::string{reinterpret_cast<const char*>(mac), mac_len};
}

std::string random_nonce(size_t n) {
  std::string result(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(result.data()), static_cast<int>(n)) != 1)
    // Never continue with a predictable nonce.
    std::abort();
  return result;
}

handshake::handshake(handshake_role role, params self, std::string nonce)
  : role_(role),
    self_(std::move(self)),
    nonce_(std::move(nonce)),
    state_(role == handshake_role::initiator ? state::await_challenge : state::await_hello) {
  // nop
}

bool handshake::start(wire::Frame& out) {
  if (role_ != handshake_role::initiator)
    return false;
  auto* hello = out.mutable_hello();
  hello->set_protocol_version(self_.version);
  hello->set_node_id(self_.node_id);
  hello->set_nonce(nonce_);
  hello->set_listen_host(self_.listen_host);
  hello->set_listen_port(self_.listen_port);
  return true;
}

bool handshake::refuse(caf::error reason, wire::Frame& reply, caf::error& err) {
  state_ = state::failed;
  reply.Clear();
  to_wire_error(reason, messages::describe(reason), *reply.mutable_refusal()->mutable_error());
  err = std::move(reason);
  return true;
}

bool handshake::fail(caf::error reason, caf::error& err) {
  state_ = state::failed;
  err = std::move(reason);
  return false;
}

bool handshake::handle(const wire::Frame& in, wire::Frame& reply, caf::error& err) {
  if (in.kind_case() == wire::Frame::kRefusal) {
    auto reason = from_wire_error(in.refusal().error());
    if (!reason)
      reason = caf::make_error(transport_errc::unexpected_frame, "refusal without a reason");
    return fail(std::move(reason), err);
  }
  switch (state_) {
    case state::await_hello: {
      if (in.kind_case() != wire::Frame::kHello)
        break;
      const auto& hello = in.hello();
      if (self_.require_encryption && !encrypted_)
        return refuse(
          caf::make_error(transport_errc::tls_mismatch,
                          "this node requires TLS; the peer connected in plaintext"),
          reply, err);
      if (hello.protocol_version() != self_.version)
        return refuse(
          caf::make_error(transport_errc::version_mismatch,
                          "peer speaks version " + std::to_string(hello.protocol_version())
                            + ", this node speaks " + std::to_string(self_.version)),
          reply, err);
      if (hello.node_id().empty())
        return refuse(
          caf::make_error(transport_errc::unexpected_frame, "hello without a node id"), reply,
          err);
      if (hello.node_id() == self_.node_id)
        return refuse(caf::make_error(transport_errc::self_connection, hello.node_id()), reply,
                      err);
      if (hello.nonce().size() < 16)
        return refuse(
          caf::make_error(transport_errc::auth_failed, "hello nonce shorter than 16 bytes"),
          reply, err);
      peer_id_ = hello.node_id();
      peer_nonce_ = hello.nonce();
      if (!hello.listen_host().empty() && hello.listen_port() != 0
          && hello.listen_port() <= 65535)
        peer_listen_ = hello.listen_host() + ":" + std::to_string(hello.listen_port());
      reply.Clear();
      auto* ch = reply.mutable_challenge();
      ch->set_protocol_version(self_.version);
      ch->set_node_id(self_.node_id);
      ch->set_nonce(nonce_);
      if (!self_.secret.empty())
        ch->set_proof(handshake_proof(self_.secret, acceptor_label, peer_nonce_, nonce_,
                                      peer_id_, self_.node_id, binding_));
      state_ = state::await_auth;
      return true;
    }
    case state::await_challenge: {
      if (in.kind_case() != wire::Frame::kChallenge)
        break;
      const auto& ch = in.challenge();
      if (ch.protocol_version() != self_.version)
        return refuse(
          caf::make_error(transport_errc::version_mismatch,
                          "peer speaks version " + std::to_string(ch.protocol_version())
                            + ", this node speaks " + std::to_string(self_.version)),
          reply, err);
      if (ch.node_id().empty())
        return refuse(
          caf::make_error(transport_errc::unexpected_frame, "challenge without a node id"),
          reply, err);
      if (ch.node_id() == self_.node_id)
        return refuse(caf::make_error(transport_errc::self_connection, ch.node_id()), reply,
                      err);
      peer_id_ = ch.node_id();
      peer_nonce_ = ch.nonce();
      if (!self_.secret.empty()) {
        if (ch.proof().empty())
          return refuse(caf::make_error(transport_errc::auth_failed,
                                        "this node requires a shared secret; the "
                                        "peer does not authenticate"),
                        reply, err);
        auto expected = handshake_proof(self_.secret, acceptor_label, nonce_, peer_nonce_,
                                        self_.node_id, peer_id_, binding_);
        if (!equal_proofs(expected, ch.proof()))
          return refuse(caf::make_error(transport_errc::auth_failed,
                                        "the peer's proof does not match the "
                                        "shared secret"),
                        reply, err);
      }
      reply.Clear();
      auto* auth = reply.mutable_auth();
      if (!self_.secret.empty())
        auth->set_proof(handshake_proof(self_.secret, initiator_label, nonce_, peer_nonce_,
                                        self_.node_id, peer_id_, binding_));
      state_ = state::await_welcome;
      return true;
    }
    case state::await_auth: {
      if (in.kind_case() != wire::Frame::kAuth)
        break;
      if (!self_.secret.empty()) {
        if (in.auth().proof().empty())
          return refuse(caf::make_error(transport_errc::auth_failed,
                                        "the peer requires a shared secret; "
                                        "none was presented"),
                        reply, err);
        auto expected = handshake_proof(self_.secret, initiator_label, peer_nonce_, nonce_,
                                        peer_id_, self_.node_id, binding_);
        if (!equal_proofs(expected, in.auth().proof()))
          return refuse(
            caf::make_error(transport_errc::auth_failed, "wrong authentication proof"), reply,
            err);
      }
      reply.Clear();
      reply.mutable_welcome()->set_node_id(self_.node_id);
      state_ = state::done;
      return true;
    }
    case state::await_welcome: {
      if (in.kind_case() != wire::Frame::kWelcome)
        break;
      state_ = state::done;
      return false;
    }
    case state::done:
    case state::failed:
      break;
  }
  return refuse(
    caf::make_error(transport_errc::unexpected_frame,
                    std::string{"a "} + frame_kind_name(in) + " frame during the handshake"),
    reply, err);
}

} // namespace troupe::transport::internal
