// troupe-services-test-node: a node in its own process serving the test
// Greeter (support/greeter.hpp), supervised and published under its full
// name, for the Python service client. Prints "PORT <n>" on stdout and runs
// until SIGTERM / SIGINT or --lifetime-s passes (so it never outlives a
// test run); exits 0 after a clean stop.
//
// Options: --secret=S --lifetime-s=N

#include <signal.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include <caf/all.hpp>

#include <troupe/services/service_child.hpp>
#include <troupe/supervisors/supervisor.hpp>
#include <troupe/transport/node.hpp>
#include <troupe/transport/system_config.hpp>

#include "support/greeter.hpp"

int main(int argc, char** argv) {
  // Block the stop signals before any thread starts; main waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  troupe::transport::node_config cfg;
  long lifetime_s = 60;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--secret=", 0) == 0)
      cfg.secret = arg.substr(9);
    else if (arg.rfind("--lifetime-s=", 0) == 0)
      lifetime_s = std::stol(arg.substr(13));
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  troupe::transport::system_config sys_cfg;
  caf::actor_system sys{sys_cfg};
  auto node = troupe::transport::node::start(sys, cfg);
  if (!node) {
    std::fprintf(stderr, "cannot start: %s\n", sys.render(node.error()).c_str());
    return 1;
  }
  troupe::supervisors::supervisor_config sup;
  sup.name = "services";
  sup.children.push_back(troupe::services::service_child<troupe::testing::greeter>(
    troupe::services::service_options{}.published_on(node->handle()),
    std::make_shared<troupe::testing::greeter_probe>()));
  auto services = troupe::supervisors::spawn_supervisor(sys, sup);
  if (!services) {
    std::fprintf(stderr, "cannot start the services: %s\n",
                 sys.render(services.error()).c_str());
    return 1;
  }
  std::printf("PORT %u\n", static_cast<unsigned>(node->port()));
  std::fflush(stdout);
  timespec wait{lifetime_s, 0};
  sigtimedwait(&stop_signals, nullptr, &wait);
  caf::scoped_actor self{sys};
  self->monitor(*services);
  caf::anon_send_exit(*services, caf::exit_reason::user_shutdown);
  self->receive([](caf::down_msg&) {}, caf::after(std::chrono::seconds{10}) >> [] {});
  node->stop();
  return 0;
}
