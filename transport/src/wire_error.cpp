#include "troupe/transport/wire_error.hpp"

#include <caf/atom.hpp>
#include <caf/message.hpp>

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

} // namespace troupe::transport
