// Does NOT compile, on purpose: each TROUPE_MISUSE case sends a supervisor a
// message that is not in `supervisor_actor`. ctest builds it and expects the
// compiler to name that reason (tests/supervisors/CMakeLists.txt);
// protocol.test.cpp holds the positive side. Without TROUPE_MISUSE it
// compiles.

#include <string>

#include <caf/scoped_actor.hpp>

#include <troupe/supervisors/supervisor_actor.hpp>

void misuse(caf::scoped_actor& self, const troupe::supervisors::supervisor_actor& sup) {
  using namespace troupe::supervisors;
#if TROUPE_MISUSE == 1
  self->send(sup, stop_child_atom::value, 42); // a child id is a string
#elif TROUPE_MISUSE == 2
  self->request(sup, caf::infinite, await_atom::value); // a scope's message
#else
  self->send(sup, stop_child_atom::value, std::string{"db"}); // fine
#endif
}
