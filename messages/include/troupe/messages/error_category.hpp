#pragma once

/// One error model for every layer: each Troupe error enum is a CAF error
/// category registered once, here in the lowest layer, and every error is
/// rendered by one function, `describe`, in log lines, on the wire
/// (`troupe.Error.message`) and through `actor_system::render`.
///
///   trp_net:unknown_actor (pricing)
///   trp_stop:cancelled (t3, trp_sup:exception_thrown (boom))
///
/// The text is `<category>:<name>`, then the context in parentheses: strings
/// unquoted, nested errors described the same way. The category atom is the
/// one that travels on the wire (`troupe.Error.category`), so a log line and
/// a wire capture name an error alike.
///
/// Declaring a category (at global scope, after the enum):
///
///   TROUPE_ERROR_CODE_ENUM(troupe::actors, flow_errc, "trp_flow")
///
/// This is CAF's `CAF_ERROR_CODE_ENUM` plus a registration that runs when
/// any translation unit that includes the enum's header is linked, so
/// `describe` knows every category in the program without an actor system.
/// The enum's `to_string` is generated from its declaration
/// (cmake/TroupeEnumStrings.cmake).
///
/// Thread safety: registration happens during static initialization (or
/// under a lock, if later); `describe` may run on any thread.

#include <cstdint>
#include <string>
#include <type_traits>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/make_message.hpp> // CAF_ERROR_CODE_ENUM needs it

namespace troupe::messages {

/// Returns the name of `code` in a category, e.g. "unknown_actor".
using code_name_fn = std::string (*)(uint8_t code);

/// Registers a category by its atom; a second registration of the same atom
/// is a no-op. Returns true (for use as an initializer).
bool register_error_category(caf::atom_value category, code_name_fn name);

/// The CAF category atom of an error code enum.
template <class Enum>
constexpr caf::atom_value category_of() {
  static_assert(caf::detail::error_factory<Enum>::specialized,
                "declare the enum with TROUPE_ERROR_CODE_ENUM or CAF_ERROR_CODE_ENUM");
  return caf::detail::error_factory<Enum>::category;
}

/// Registers `Enum` (declared with CAF_ERROR_CODE_ENUM and a `to_string`).
template <class Enum>
bool register_error_category() {
  return register_error_category(
    category_of<Enum>(), [](uint8_t code) { return to_string(static_cast<Enum>(code)); });
}

/// True if `err` carries `code`, whatever its context. One predicate for
/// every category: `is(err, transport_errc::peer_lost)`,
/// `is(err, stop_reason::cancelled)`, `is(err, caf::sec::request_timeout)`.
template <class Enum,
          class = std::enable_if_t<caf::detail::error_factory<Enum>::specialized
                                   || caf::has_make_error<Enum>::value>>
bool is(const caf::error& err, Enum code) noexcept {
  if constexpr (caf::detail::error_factory<Enum>::specialized)
    return err && err.category() == category_of<Enum>()
      && err.code() == static_cast<uint8_t>(code);
  else
    return err && err == code; // CAF's own enums (sec, exit_reason)
}

/// The one rendering of an error (see above); "none" for no error. A
/// category nobody registered renders as `<category>:<code>`.
std::string describe(const caf::error& err);

/// The context of an error as `describe` shows it: elements joined by ", ".
std::string describe_context(const caf::message& ctx);

/// Makes `cfg`'s `actor_system::render` use `describe` for every registered
/// category, CAF's own `system` and `exit` included. Called by `troupe::actors::system_config`
/// (and so by every layer's config).
void add_error_renderers(caf::actor_system_config& cfg);

} // namespace troupe::messages

/// Declares `ns::name` an error code enum of category `category` (at most 10
/// characters) and registers it with `describe`. Use at global scope.
#define TROUPE_ERROR_CODE_ENUM(ns, name, category)                                            \
  CAF_ERROR_CODE_ENUM(ns::name, category)                                                     \
  namespace ns {                                                                              \
  inline const bool name##_category_registered =                                              \
    ::troupe::messages::register_error_category<name>();                                      \
  using ::troupe::messages::is;                                                               \
  }
