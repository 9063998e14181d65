// The registry that generated code fills and CAF configs read.

#include <catch2/catch.hpp>

#include <algorithm>

#include "test/v1/everything.pb.h"
#include "test/v1/unregistered.pb.h"

#include <caf/all.hpp>

#include <troupe/messages/register_type.hpp>
#include <troupe/messages/type_registry.hpp>
#include <troupe/testing/deterministic_system.hpp>

using troupe::messages::type_registry;
using deterministic_system = troupe::testing::deterministic_system<>;

namespace {

bool contains(const std::vector<std::string>& xs, const std::string& x) {
  return std::find(xs.begin(), xs.end(), x) != xs.end();
}

} // namespace

// Registration lives in each .pb.cc, so a class is registered exactly when
// its code is linked into the program.
TEST_CASE("generated code registers every linked message class, nested ones "
          "included and map entries excluded",
          "[messages][registry]") {
  auto names = type_registry::instance().names();
  CHECK(contains(names, "test.v1.Everything"));
  CHECK(contains(names, "test.v1.Everything.Inner"));
  CHECK(contains(names, "test.v1.Ping"));
  CHECK_FALSE(contains(names, "test.v1.Everything.CountsEntry"));
  CHECK_FALSE(contains(names, "test.v1.Stranger"));
}

TEST_CASE("the registry finds a class by full name and by C++ type", "[messages][registry]") {
  auto& registry = type_registry::instance();
  auto* by_name = registry.find("test.v1.Everything.Inner");
  REQUIRE(by_name != nullptr);
  CHECK(by_name->cpp_type == std::type_index{typeid(test::v1::Everything_Inner)});
  CHECK(registry.find(std::type_index{typeid(test::v1::Everything_Inner)}) == by_name);
  CHECK(registry.find("test.v1.Nope") == nullptr);
  CHECK(registry.find(std::type_index{typeid(test::v1::Stranger)}) == nullptr);
}

TEST_CASE("registering the same class again changes nothing", "[messages][registry]") {
  auto& registry = type_registry::instance();
  auto before = registry.size();
  auto* entry = registry.find("test.v1.Ping");
  REQUIRE(entry != nullptr); // "again": it is registered already
  troupe::messages::register_type<test::v1::Ping>("test.v1.Ping");
  CHECK(registry.size() == before);
  CHECK(registry.find("test.v1.Ping") == entry);
}

TEST_CASE_METHOD(deterministic_system,
                 "a Troupe-configured system knows every registered class "
                 "under its protobuf full name",
                 "[messages][registry]") {
  auto& types = sys.types();
  for (auto& name : type_registry::instance().names()) {
    CAPTURE(name);
    CHECK(types.make_value(name) != nullptr);
  }
  CHECK(types.portable_name(0, &typeid(test::v1::Ping)) == "test.v1.Ping");
  CHECK(types.portable_name(0, &typeid(test::v1::Everything_Inner))
        == "test.v1.Everything.Inner");
  CHECK(types.portable_name(0, &typeid(test::v1::Stranger)) == types.default_type_name());
}
