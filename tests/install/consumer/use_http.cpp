#include "uses.hpp"

#include <iostream>

#include <caf/actor_system.hpp>
#include <caf/make_message.hpp>

#include <troupe/http/http_get.hpp>
#include <troupe/http/http_message.hpp>

bool use_http(caf::actor_system& sys) {
  using troupe::http::http_get;
  http_get::config cfg;
  cfg.max_redirects = 0;
  cfg.user_agent = "troupe-install-consumer";
  auto get = http_get::make(cfg);
  if (!get) {
    std::cerr << "consumer: http_get::make failed: " << sys.render(get.error()) << "\n";
    return false;
  }
  if ((*get)->settings().user_agent != cfg.user_agent || (*get)->in_flight() != 0) {
    std::cerr << "consumer: http_get does not hold its config\n";
    return false;
  }
  // Requests are plain values that travel in CAF messages.
  auto msg = caf::make_message(troupe::http::http_request{"http://127.0.0.1/", {}});
  if (!msg.match_element<troupe::http::http_request>(0)) {
    std::cerr << "consumer: an http_request does not travel in a CAF message\n";
    return false;
  }
  return true;
}
