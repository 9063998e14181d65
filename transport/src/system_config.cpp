#include "troupe/transport/system_config.hpp"

#include <cstdio>
#include <cstring>
#include <sstream>
#include <string_view>
#include <type_traits>

#include <caf/config_option_adder.hpp>
#include <caf/settings.hpp>

#include "config_keys.hpp"

namespace troupe::transport {

namespace {

/// A view of a string literal. CAF 0.17's string_view takes a `const char*`
/// only when built by GCC (clang: arrays only), and the keys arrive as
/// pointers.
caf::string_view view(const char* literal) {
  return {literal, std::strlen(literal)};
}

} // namespace

system_config::system_config() {
  // Each key is declared as an option and its default written into the
  // settings, so `--dump-config` shows it.
  auto declare = [this](opt_group& group, const char* group_name) {
    return [this, &group, group_name](const char* name, const auto& field, const char* text) {
      group.add<std::decay_t<decltype(field)>>(view(name), view(text));
      caf::put(content, internal::config_key(group_name, name), field);
    };
  };
  node_config n;
  opt_group node_options{custom_options_, view(internal::node_group)};
  internal::visit_node_keys(n, declare(node_options, internal::node_group));
  auto verify = to_string(n.tls.verify);
  opt_group tls_options{custom_options_, view(internal::tls_group)};
  internal::visit_tls_keys(n.tls, verify, declare(tls_options, internal::tls_group));
  stream_export_config e;
  stream_import_config i;
  opt_group stream_options{custom_options_, view(internal::stream_group)};
  internal::visit_stream_export_keys(e, declare(stream_options, internal::stream_group));
  internal::visit_stream_import_keys(i, declare(stream_options, internal::stream_group));
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
