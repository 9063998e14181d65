#include "troupe/messages/error_category.hpp"

#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

namespace troupe::messages {

namespace {

/// Category atom -> names of its codes. CAF's own categories are known from
/// the start.
class category_table {
public:
  static category_table& instance() {
    // A function-local static: categories register from static
    // initializers of other translation units, in unspecified order.
    static category_table table;
    return table;
  }

  void add(caf::atom_value category, code_name_fn name) {
    std::unique_lock guard{mtx_};
    names_.emplace(category, name);
  }

  code_name_fn find(caf::atom_value category) const {
    std::shared_lock guard{mtx_};
    auto i = names_.find(category);
    return i != names_.end() ? i->second : nullptr;
  }

  std::vector<caf::atom_value> categories() const {
    std::shared_lock guard{mtx_};
    std::vector<caf::atom_value> result;
    for (auto& kvp : names_)
      result.push_back(kvp.first);
    return result;
  }

private:
  category_table() {
    names_.emplace(caf::atom("system"),
                   [](uint8_t code) { return caf::to_string(static_cast<caf::sec>(code)); });
    names_.emplace(caf::atom("exit"), [](uint8_t code) {
      return caf::to_string(static_cast<caf::exit_reason>(code));
    });
  }

  mutable std::shared_mutex mtx_;
  std::unordered_map<caf::atom_value, code_name_fn> names_;
};

std::string code_text(const caf::error& err) {
  auto category = caf::to_string(err.category());
  if (auto name = category_table::instance().find(err.category()))
    return category + ':' + name(err.code());
  return category + ':' + std::to_string(err.code());
}

} // namespace

bool register_error_category(caf::atom_value category, code_name_fn name) {
  category_table::instance().add(category, name);
  return true;
}

std::string describe(const caf::error& err) {
  if (!err)
    return "none";
  auto result = code_text(err);
  const auto& ctx = err.context();
  if (ctx.empty())
    return result;
  // An error that crossed the wire carries the sender's description as its
  // context, which starts with the same code: show it once.
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) {
    const auto& text = ctx.get_as<std::string>(0);
    if (text.compare(0, result.size(), result) == 0)
      return text;
  }
  result += " (";
  result += describe_context(ctx);
  result += ')';
  return result;
}

std::string describe_context(const caf::message& ctx) {
  std::string result;
  for (size_t i = 0; i < ctx.size(); ++i) {
    if (i > 0)
      result += ", ";
    if (ctx.match_element<std::string>(i))
      result += ctx.get_as<std::string>(i);
    else if (ctx.match_element<caf::error>(i))
      result += describe(ctx.get_as<caf::error>(i));
    else
      result += ctx.stringify(i);
  }
  return result;
}

void add_error_renderers(caf::actor_system_config& cfg) {
  // CAF's own categories too ("system", "exit"): an error that crossed the
  // wire carries the sender's description as its context, and CAF's own
  // renderer would print it inside its own format
  // ("system_error(runtime_error, ("system:runtime_error"))").
  for (auto category : category_table::instance().categories()) {
    cfg.add_error_category(category,
                           [](uint8_t code, caf::atom_value cat, const caf::message& ctx) {
                             return describe(caf::error{code, cat, ctx});
                           });
  }
}

} // namespace troupe::messages
