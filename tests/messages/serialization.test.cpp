// Checked serialization: an unregistered type is a typed error.

#include <catch2/catch.hpp>

#include "everything_sample.hpp"
#include "test/v1/unregistered.pb.h"

#include <caf/all.hpp>
#include <google/protobuf/util/message_differencer.h>

#include <troupe/messages/message_errc.hpp>
#include <troupe/messages/protobuf_inspect.hpp>
#include <troupe/messages/serialization.hpp>
#include <troupe/testing/deterministic_system.hpp>

using google::protobuf::util::MessageDifferencer;
using troupe::messages::message_errc;
using deterministic_system = troupe::testing::deterministic_system<>;
using troupe::testing::everything_sample;

namespace {

struct local_only {
  int value = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, local_only& x) {
  return f(caf::meta::type_name("local_only"), x.value);
}

using hop_atom = caf::atom_constant<caf::atom("hop")>;

// Stands in for a network hop: everything it forwards is serialized and
// deserialized, and a serialization error goes back to the requester.
caf::behavior serializing_hop(caf::event_based_actor* self, caf::actor target) {
  self->set_default_handler(
    [=](caf::scheduled_actor*, caf::message_view& view) -> caf::result<caf::message> {
      std::vector<char> buf;
      auto msg = view.move_content_to_message();
      if (auto err = troupe::messages::serialize(self->system(), msg, buf))
        return err;
      caf::message copy;
      if (auto err = troupe::messages::deserialize(self->system(), buf, copy))
        return err;
      return self->delegate(target, std::move(copy));
    });
  return {[](hop_atom) {}};
}

caf::behavior echo(caf::event_based_actor*) {
  return {
    [](const test::v1::Everything& x) { return x; },
    [](const test::v1::Stranger& x) { return x; },
  };
}

} // namespace

TEST_CASE_METHOD(deterministic_system,
                 "an unregistered protobuf type is refused with unregistered_type",
                 "[messages][serialization]") {
  test::v1::Stranger stranger;
  stranger.set_note("not registered");
  auto msg = caf::make_message(stranger);
  auto err = troupe::messages::check_serializable(sys, msg);
  REQUIRE(err);
  CHECK(err == caf::make_error(message_errc::unregistered_type));
  CHECK(sys.render(err).find("Stranger") != std::string::npos);
  std::vector<char> buf{'x'};
  CHECK(troupe::messages::serialize(sys, msg, buf)
        == caf::make_error(message_errc::unregistered_type));
  CHECK(buf == std::vector<char>{'x'}); // nothing was appended
}

TEST_CASE_METHOD(deterministic_system,
                 "an unregistered plain C++ type is refused with unregistered_type",
                 "[messages][serialization]") {
  auto msg = caf::make_message(int32_t{1}, local_only{2});
  CHECK(troupe::messages::check_serializable(sys, msg)
        == caf::make_error(message_errc::unregistered_type));
}

TEST_CASE_METHOD(deterministic_system,
                 "the sender of an unregistered type gets the typed error, "
                 "not an empty message at the receiver",
                 "[messages][serialization]") {
  auto hop = sys.spawn(serializing_hop, sys.spawn(echo));
  run();
  test::v1::Stranger stranger;
  stranger.set_note("lost?");
  self->send(hop, stranger);
  run();
  CHECK_FALSE(received<test::v1::Stranger>());
  auto seen = received<caf::error>();
  REQUIRE(seen);
  auto& err = std::get<0>(*seen);
  CHECK(err == caf::make_error(message_errc::unregistered_type));
}

TEST_CASE_METHOD(deterministic_system,
                 "a registered message crosses the serializing hop intact",
                 "[messages][serialization]") {
  auto hop = sys.spawn(serializing_hop, sys.spawn(echo));
  run();
  auto sample = everything_sample();
  self->send(hop, sample);
  run();
  auto reply = received<test::v1::Everything>();
  REQUIRE(reply);
  CHECK(MessageDifferencer::Equals(std::get<0>(*reply), sample));
}

TEST_CASE_METHOD(deterministic_system,
                 "deserialize leaves the output untouched on truncated input",
                 "[messages][serialization]") {
  std::vector<char> buf;
  REQUIRE(!troupe::messages::serialize(
    sys, caf::make_message(std::string{"abc"}, everything_sample()), buf));
  for (size_t cut : {size_t{0}, size_t{1}, buf.size() / 2, buf.size() - 1}) {
    std::vector<char> truncated(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(cut));
    auto out = caf::make_message(caf::ok_atom::value);
    CAPTURE(cut);
    CHECK(troupe::messages::deserialize(sys, truncated, out)
          == caf::make_error(message_errc::malformed_message));
    CHECK(out.match_elements<caf::ok_atom>());
  }
}

TEST_CASE_METHOD(deterministic_system,
                 "deserialize refuses trailing bytes after a complete message",
                 "[messages][serialization]") {
  std::vector<char> buf;
  REQUIRE(!troupe::messages::serialize(sys, caf::make_message(int32_t{7}), buf));
  buf.push_back('!');
  caf::message out;
  CHECK(troupe::messages::deserialize(sys, buf, out)
        == caf::make_error(message_errc::malformed_message));
  CHECK(out.empty());
}
