#pragma once

/// The connection handshake as a pure state machine: frames in, frames out,
/// no sockets and no clock, so every path is unit-tested.
///
///   initiator                         acceptor
///   Hello{version, id, nonce_i} ───▶  checks version (Refusal on mismatch)
///                               ◀───  Challenge{version, id, nonce_a, proof_a}
///   checks proof_a (if it has a secret)
///   Auth{proof_i}               ───▶  checks proof_i (if it has a secret)
///                               ◀───  Welcome{id}            (or Refusal)
///
/// `proof_a` / `proof_i` are HMAC-SHA256 values over both nonces and both
/// node ids (see `handshake_proof`), so the secret never travels, each side
/// proves it knows it, and a recorded exchange cannot be replayed (fresh
/// nonces). A side without a secret sends empty proofs; a side with a
/// secret refuses a peer that sends none (`auth_failed`).
///
/// Thread safety: one instance per connection, used by its owner only.

#include <cstdint>
#include <string>
#include <string_view>

#include <caf/error.hpp>

#include "troupe/transport/node_config.hpp"

namespace troupe::wire {
class Frame;
} // namespace troupe::wire

namespace troupe::transport::internal {

/// Returns HMAC-SHA256(secret, label ‖ len₄(hello_nonce) ‖ hello_nonce ‖
/// len₄(challenge_nonce) ‖ challenge_nonce ‖ len₄(initiator_id) ‖
/// initiator_id ‖ len₄(acceptor_id) ‖ acceptor_id), where len₄ is the length
/// as 4 bytes big-endian and `label` is "troupe-v1/acceptor" (the
/// acceptor's proof) or "troupe-v1/initiator", followed by
/// len₄(channel_binding) ‖ channel_binding when the connection is TLS (see
/// `connection_io::channel_binding`). Returns 32 raw bytes.
std::string handshake_proof(std::string_view secret, std::string_view label,
                            std::string_view hello_nonce, std::string_view challenge_nonce,
                            std::string_view initiator_id, std::string_view acceptor_id,
                            std::string_view channel_binding = {});

/// Returns `n` bytes from OpenSSL's CSPRNG.
std::string random_nonce(size_t n = 16);

/// Which end of the connection runs the handshake.
enum class handshake_role : uint8_t {
  /// Dialed the connection; sends Hello first.
  initiator,
  /// Accepted the connection; answers Hello.
  acceptor,
};

class handshake {
public:
  /// What this side says about itself.
  struct params {
    std::string node_id;
    /// Shared secret; empty = no authentication.
    std::string secret;
    /// Where this node listens (sent in Hello; empty if it does not listen).
    std::string listen_host;
    uint16_t listen_port = 0;
    uint32_t version = protocol_version;
    /// This node speaks TLS: an acceptor refuses a Hello that arrived on a
    /// plaintext connection (`tls_mismatch`). See `set_encrypted`.
    bool require_encryption = false;
  };

  /// `nonce` is this side's fresh random nonce (injected for tests).
  handshake(handshake_role role, params self, std::string nonce);

  /// Whether the connection the frames arrive on is encrypted (TLS), and
  /// its TLS channel binding (both ends of one TLS session have the same;
  /// empty for plaintext); set by the owner before `handle`. The proofs
  /// cover the binding, so a man in the middle that ends TLS on both sides
  /// (possible with `tls_verify::none`) cannot relay a handshake that uses a
  /// secret. Default: plaintext.
  void set_encrypted(bool x, std::string channel_binding = {}) {
    encrypted_ = x;
    binding_ = std::move(channel_binding);
  }

  /// Initiator: fills `out` with the Hello and returns true. Acceptor: false.
  bool start(wire::Frame& out);

  /// Handles one frame from the peer. Returns true if `reply` was filled
  /// and must be sent. Returns an error (and possibly a Refusal in `reply`
  /// to send before closing) if the handshake failed; a Refusal from the
  /// peer becomes the peer's typed reason.
  bool handle(const wire::Frame& in, wire::Frame& reply, caf::error& err);

  /// Whether the connection is established.
  bool done() const noexcept {
    return state_ == state::done;
  }

  handshake_role role() const noexcept {
    return role_;
  }

  // -- what we learned about the peer (valid once `done()`) ----------------

  const std::string& peer_id() const noexcept {
    return peer_id_;
  }
  /// The peer's advertised listen address, "host:port"; empty if unknown.
  const std::string& peer_listen_address() const noexcept {
    return peer_listen_;
  }

private:
  enum class state : uint8_t {
    await_hello,
    await_challenge,
    await_auth,
    await_welcome,
    done,
    failed
  };

  bool refuse(caf::error reason, wire::Frame& reply, caf::error& err);
  bool fail(caf::error reason, caf::error& err);

  handshake_role role_;
  params self_;
  std::string nonce_;
  std::string peer_nonce_;
  std::string peer_id_;
  std::string peer_listen_;
  state state_;
  bool encrypted_ = false;
  std::string binding_;
};

} // namespace troupe::transport::internal
