// troupe-demo: run `troupe-demo` for the whole story (it starts its own
// warehouse process); `troupe-demo --role=warehouse [--port=N]` runs the
// warehouse alone, and `troupe-demo --warehouse=host:port` runs the shop
// against it. `--help` lists the options. A shop stopped by SIGTERM / SIGINT
// exits with 128 + the signal number (143 for SIGTERM).

#include <cstdio>
#include <iostream>

#include <caf/actor_system.hpp>

#include "demo.hpp"

demo_config::demo_config() {
  opt_group{custom_options_, "global"}
    .add(role, "role", "shop (default) or warehouse")
    .add(orders, "orders", "orders the warehouse streams (default 10000)")
    .add(warehouse, "warehouse",
         "shop: host:port of a running warehouse to use (default: start one)")
    .add(port, "port", "warehouse: port to listen on (default 0 = ephemeral)");
}

int main(int argc, char** argv) {
  // Line-buffered, so our lines and the log lines (stderr) interleave in order.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  demo_config cfg;
  if (auto err = cfg.parse_args(argc, argv)) {
    std::cerr << "troupe-demo: " << to_string(err) << "\n";
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  if (cfg.role != "shop" && cfg.role != "warehouse") {
    std::cerr << "troupe-demo: --role must be shop or warehouse (got " << cfg.role << ")\n";
    return 2;
  }
  caf::actor_system sys{cfg};
  return cfg.role == "warehouse" ? run_warehouse(sys, cfg) : run_shop(sys, cfg, argv[0]);
}
