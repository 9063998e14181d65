#include "troupe/transport/wire_error.hpp"

#include <caf/atom.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

#include <troupe/actors/fetch_errc.hpp>
#include <troupe/actors/flow_errc.hpp>
#include <troupe/messages/message_errc.hpp>

#include "troupe/error.pb.h"
#include "troupe/transport/transport_errc.hpp"

namespace troupe::transport {

namespace {

bool valid_atom_text(const std::string& x) {
  if (x.empty() || x.size() > 10)
    return false;
  for (auto c : x)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ' '))
      return false;
  return true;
}

} // namespace

void to_wire_error(const caf::error& err, const std::string& text, troupe::Error& out) {
  out.set_category(caf::to_string(err.category()));
  out.set_code(err.code());
  out.set_message(text);
}

caf::error from_wire_error(const troupe::Error& in) {
  if (in.code() == 0 || in.code() > 255 || !valid_atom_text(in.category()))
    return caf::make_error(transport_errc::remote_error, in.category(),
                           static_cast<uint32_t>(in.code()), in.message());
  return caf::error{static_cast<uint8_t>(in.code()), caf::atom_from_string(in.category()),
                    caf::make_message(in.message())};
}

std::string describe(const caf::error& err) {
  if (!err)
    return "none";
  std::string result;
  auto cat = err.category();
  if (cat == transport_errc_category)
    result = "trp_net:" + to_string(static_cast<transport_errc>(err.code()));
  else if (cat == messages::message_errc_category)
    result = "trp_msg:" + to_string(static_cast<messages::message_errc>(err.code()));
  else if (cat == actors::flow_errc_category)
    result = "trp_flow:" + to_string(static_cast<actors::flow_errc>(err.code()));
  else if (cat == actors::fetch_errc_category)
    result = "trp_fetch:" + to_string(static_cast<actors::fetch_errc>(err.code()));
  else if (cat == caf::atom("system"))
    result = "system:" + caf::to_string(static_cast<caf::sec>(err.code()));
  else
    return caf::to_string(err);
  const auto& ctx = err.context();
  // An error that crossed the wire carries the sender's description as its
  // context; it already starts with the category and code: show it once.
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) {
    const auto& text = ctx.get_as<std::string>(0);
    if (text.compare(0, result.size(), result) == 0)
      return text;
  }
  if (!ctx.empty())
    result += " " + caf::to_string(ctx);
  return result;
}

} // namespace troupe::transport
