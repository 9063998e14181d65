#pragma once

// The distributed demo: a shop process and a warehouse process on 127.0.0.1,
// on the generated service of shop.proto (docs/services.md).
//
//   shop (this process)                      warehouse (child process)
//   ───────────────────                      ─────────────────────────
//   Warehouse::Stub ── Quote(QuoteRequest) ─▶ Warehouse::Service, supervised,
//                  ◀─ Quote / typed status ─  published as shop.v1.Warehouse;
//                                             restarted with backoff on failure
//   consumer (cap 16) ◀─ Orders(...) stream ─ producer per call, bounded (64)
//   SIGTERM ───────────────────────────────▶ graceful shutdown (streams drain)
//   (dies) ─── PR_SET_PDEATHSIG SIGTERM ────▶ the warehouse stops with its shop

#include <string>

#include <caf/actor_system_config.hpp>

#include <troupe/observability/system_config.hpp>

/// The transport's keys, the cluster's, and `troupe.http.*` (the warehouse's
/// observability endpoint: `--troupe.http.port=<p>`).
struct demo_config : troupe::observability::system_config {
  demo_config();
  /// "shop" (default) or "warehouse".
  std::string role = "shop";
  /// Orders the warehouse streams.
  uint64_t orders = 10'000;
  /// Shop: "host:port" of a running warehouse to use instead of starting one.
  std::string warehouse;
  /// Warehouse: the port to listen on (0 = an ephemeral port). A shop that
  /// starts its own warehouse passes it on.
  uint16_t port = 0;
};

/// Runs the warehouse: prints "warehouse listening on 127.0.0.1:<port>" and
/// serves until SIGTERM / SIGINT. Returns the process exit code.
int run_warehouse(caf::actor_system& sys, const demo_config& cfg);

/// Exit code of a shop stopped by SIGTERM / SIGINT: 128 + the signal number,
/// as a shell reports a process killed by it (143 for SIGTERM).
constexpr int shop_signal_exit_base = 128;

/// Runs the shop: starts the warehouse as a child process (`self_path`),
/// talks to it, stops it; or, with `cfg.warehouse`, uses that warehouse and
/// leaves it running. The child gets SIGTERM when the shop dies, even by
/// SIGKILL (PR_SET_PDEATHSIG). On SIGTERM / SIGINT the shop stops its work,
/// stops its warehouse and returns `shop_signal_exit_base + signal`.
/// Returns the process exit code: 0 when every step worked, 1 otherwise.
int run_shop(caf::actor_system& sys, const demo_config& cfg, const std::string& self_path);
