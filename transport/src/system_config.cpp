#include "troupe/transport/system_config.hpp"

#include <cstdio>
#include <sstream>
#include <string_view>

#include <caf/config_option_adder.hpp>
#include <caf/settings.hpp>

#include "troupe/transport/node_config.hpp"
#include "troupe/transport/remote_stream.hpp"

namespace troupe::transport {

system_config::system_config() {
  // The defaults go into the content too, so `--dump-config` shows them.
  node_config n;
  opt_group{custom_options_, "troupe.node"}
    .add<std::string>("host", "address to listen on (0.0.0.0: other hosts too)")
    .add<uint16_t>("port", "port to listen on; 0 = an ephemeral port")
    .add<bool>("listen", "whether to listen at all")
    .add<std::string>("node-id", "this node's id; empty = <host>:<pid>:<random>")
    .add<std::string>("secret", "shared secret of the HMAC handshake; empty = none")
    .add<uint32_t>("max-frame-size", "largest frame accepted or sent, in bytes")
    .add<uint32_t>("max-handshake-frame-size", "largest frame before the handshake")
    .add<caf::timespan>("handshake-timeout", "bound on the whole handshake")
    .add<caf::timespan>("connect-timeout", "bound on establishing a TCP connection")
    .add<caf::timespan>("heartbeat-interval", "how often each side sends a heartbeat")
    .add<caf::timespan>("peer-timeout", "silence after which a peer is down")
    .add<caf::timespan>("default-deadline", "deadline of a request without options")
    .add<bool>("reconnect", "whether a lost outbound connection is re-established")
    .add<uint32_t>("io-threads", "threads running the node's I/O")
    .add<caf::timespan>("stop-timeout", "how long a connection may take to say goodbye");
  caf::put(content, "troupe.node.host", n.host);
  caf::put(content, "troupe.node.port", n.port);
  caf::put(content, "troupe.node.listen", n.listen);
  caf::put(content, "troupe.node.node-id", n.node_id);
  caf::put(content, "troupe.node.secret", n.secret);
  caf::put(content, "troupe.node.max-frame-size", n.max_frame_size);
  caf::put(content, "troupe.node.max-handshake-frame-size", n.max_handshake_frame_size);
  caf::put(content, "troupe.node.handshake-timeout", n.handshake_timeout);
  caf::put(content, "troupe.node.connect-timeout", n.connect_timeout);
  caf::put(content, "troupe.node.heartbeat-interval", n.heartbeat_interval);
  caf::put(content, "troupe.node.peer-timeout", n.peer_timeout);
  caf::put(content, "troupe.node.default-deadline", n.default_deadline);
  caf::put(content, "troupe.node.reconnect", n.reconnect);
  caf::put(content, "troupe.node.io-threads", n.io_threads);
  caf::put(content, "troupe.node.stop-timeout", n.stop_timeout);
  stream_export_config e;
  stream_import_config i;
  opt_group{custom_options_, "troupe.stream"}
    .add<caf::timespan>("poll-interval", "exporter: longest a Pull waits for items")
    .add<caf::timespan>("idle-timeout", "exporter: closes a stream whose importer is silent")
    .add<uint32_t>("max-batch", "exporter: most items per Batch")
    .add<uint32_t>("capacity", "importer: most items held or on their way (the bound)")
    .add<uint32_t>("batch-size", "importer: most items per local batch")
    .add<caf::timespan>("pull-timeout", "importer: limit of one Pull round trip");
  caf::put(content, "troupe.stream.poll-interval", e.poll_interval);
  caf::put(content, "troupe.stream.idle-timeout", e.idle_timeout);
  caf::put(content, "troupe.stream.max-batch", e.max_batch);
  caf::put(content, "troupe.stream.capacity", i.capacity);
  caf::put(content, "troupe.stream.batch-size", i.batch_size);
  caf::put(content, "troupe.stream.pull-timeout", i.pull_timeout);
}

std::string system_config::help_text() const {
  // CAF lists one section per category, separated by blank lines; keep the
  // global one and Troupe's.
  std::istringstream in{custom_options_.help_text(false)};
  std::string result;
  std::string section;
  std::string line;
  auto flush = [&] {
    if (section.rfind("global options", 0) == 0 || section.rfind("troupe.", 0) == 0)
      result += section + "\n";
    section.clear();
  };
  while (std::getline(in, line)) {
    if (line.empty()) {
      flush();
      continue;
    }
    section += line + "\n";
  }
  flush();
  return result;
}

caf::error system_config::parse_args(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg{argv[i]};
    if (arg == "--help" || arg == "-h" || arg == "-?") {
      std::fputs(help_text().c_str(), stdout);
      cli_helptext_printed = true;
      return caf::none;
    }
  }
  return parse(argc, argv);
}

} // namespace troupe::transport
