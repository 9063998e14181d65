#pragma once

// The distributed demo: a shop process and a warehouse process on 127.0.0.1.
//
//   shop (this process)                  warehouse (child process)
//   ───────────────────                  ─────────────────────────
//   proxy "pricing@…" ── QuoteRequest ─▶ pricing actor, supervised:
//                     ◀─ Quote ───────   restarted with backoff when it fails
//   consumer (cap 64) ◀── Order stream ─ producer, bounded across the wire
//   SIGTERM ───────────────────────────▶ graceful shutdown of the tree, exit 0

#include <string>

#include <caf/actor_system_config.hpp>

#include <troupe/transport/system_config.hpp>

struct demo_config : troupe::transport::system_config {
  demo_config();
  /// "shop" (default) or "warehouse".
  std::string role = "shop";
  /// Orders the warehouse streams.
  uint64_t orders = 10'000;
};

/// Runs the warehouse: prints "warehouse listening on 127.0.0.1:<port>" and
/// serves until SIGTERM / SIGINT. Returns the process exit code.
int run_warehouse(caf::actor_system& sys, const demo_config& cfg);

/// Runs the shop: starts the warehouse as a child process (`self_path`),
/// talks to it, stops it. Returns the process exit code.
int run_shop(caf::actor_system& sys, const demo_config& cfg, const std::string& self_path);
