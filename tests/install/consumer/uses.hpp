#pragma once

// What the consumer does with each installed library, one source file each
// (use_<library>.cpp), so that a missing export, header or find_dependency
// fails the build at the library it concerns. Each returns false after
// printing why.

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

/// troupe::messages: a user schema through CAF serialization and back, then
/// as a request to `shop`.
bool use_messages(caf::actor_system& sys, const caf::actor& shop);

/// troupe::actors: a producer of orders pulled by a consumer with a capacity.
bool use_actors(caf::actor_system& sys);

/// troupe::http: an http_get with a config of our own (it starts and joins
/// its loop thread; no request leaves the process).
bool use_http(caf::actor_system& sys);

/// troupe::supervisors: a supervisor whose child is the shop; returns the
/// supervisor in `root` and the running child in `shop`.
bool use_supervisors(caf::actor_system& sys, caf::actor& root, caf::actor& shop);

/// troupe::transport: one node publishes `shop`, another calls it over TCP
/// on 127.0.0.1.
bool use_transport(caf::actor_system& sys, const caf::actor& shop);

/// troupe::observability: a snapshot of the supervisor `root`, and an
/// endpoint started on an ephemeral port and stopped.
bool use_observability(caf::actor_system& sys, const caf::actor& root);

/// troupe::services: the generated Till service, supervised-free, called
/// through its generated stub in this process.
bool use_services(caf::actor_system& sys);
