// troupe-demo: run `troupe-demo` for the whole story (it starts its own
// warehouse process); `troupe-demo --role=warehouse` runs the warehouse alone.

#include <cstdio>
#include <iostream>

#include <caf/actor_system.hpp>

#include "demo.hpp"

demo_config::demo_config() {
  opt_group{custom_options_, "global"}
    .add(role, "role", "shop (default) or warehouse")
    .add(orders, "orders", "orders the warehouse streams (default 10000)");
}

int main(int argc, char** argv) {
  // Line-buffered, so our lines and the log lines (stderr) interleave in order.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  demo_config cfg;
  if (auto err = cfg.parse(argc, argv)) {
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
