#pragma once

// The services the services tests run: a Greeter whose behaviour each
// request chooses (`Hello.mode`), and a Relay that calls a Greeter from its
// handler (the second hop). Both log through the "services_test" logger, so
// tests can read the context in their lines.

#include <algorithm>
#include <atomic>
#include <cctype>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include <caf/all.hpp>

#include <troupe/actors/log.hpp>
#include <troupe/services/service.hpp>
#include <troupe/services/stream_reply.hpp>
#include <troupe/services/stub.hpp>

#include "services_test/v1/greeter.pb.h"

namespace troupe::testing {

/// What every incarnation of a greeter saw, for tests (shared across
/// restarts).
struct greeter_probe {
  std::atomic<int> starts{0};
  std::atomic<int> calls{0};
  std::atomic<int> refused_expired{0};
  /// Stream items produced and consumed (the test's consumer counts), and
  /// the most produced and not yet consumed at any pull: never above the
  /// caller's capacity.
  std::atomic<int64_t> produced{0};
  std::atomic<int64_t> consumed{0};
  std::atomic<int64_t> max_unconsumed{0};
  std::atomic<int64_t> max_demand{0};
  std::atomic<int> streams_unclaimed{0};
  /// `Count` spawns its producer itself and hands it over as owned
  /// (`stream_reply::owned`) instead of returning its pull source.
  bool own_producer = false;

  /// The incarnation running now.
  caf::actor current() const {
    std::lock_guard<std::mutex> guard{mtx};
    return caf::actor_cast<caf::actor>(running);
  }

  mutable std::mutex mtx;
  caf::actor_addr running;
};

class greeter final : public services_test::v1::Greeter::Service {
public:
  using Greeting = services_test::v1::Greeting;
  using Hello = services_test::v1::Hello;

  explicit greeter(std::shared_ptr<greeter_probe> probe = std::make_shared<greeter_probe>())
    : probe_(std::move(probe)) {
    // nop
  }

  void on_stop() override {
    // What this incarnation refused, for tests that look after it ended.
    probe_->refused_expired += static_cast<int>(stats().expired_before_start);
    probe_->streams_unclaimed += static_cast<int>(stats().streams_unclaimed);
  }

  void on_start() override {
    ++probe_->starts;
    {
      std::lock_guard<std::mutex> guard{probe_->mtx};
      probe_->running = self()->address();
    }
    // Answers later, for the "defer" mode: any other actor will do.
    echo_ = self()->spawn<caf::linked>(
      []() -> caf::behavior { return {[](const std::string& x) { return x; }}; });
  }

  services::reply<Greeting> greet(services::server_call& call, const Hello& req) override {
    ++probe_->calls;
    actors::logger("services_test")->info("greeting {}", req.name());
    const auto& mode = req.mode();
    if (mode.rfind("fail:", 0) == 0)
      return caf::make_error(static_cast<services::rpc_errc>(std::stoi(mode.substr(5))),
                             "asked to fail: " + req.name());
    if (mode == "throw")
      throw std::runtime_error("asked to throw");
    if (mode == "hold")
      return call.defer<Greeting>(); // never answered
    if (mode == "defer") {
      auto later = call.defer<Greeting>();
      auto answer = greeting(call, "hello later, " + req.name());
      call.self()
        ->request(echo_, caf::infinite, answer.text())
        .then([later, answer](std::string&) mutable { later.deliver(answer); });
      return later;
    }
    return greeting(call, "hello, " + req.name());
  }

  services::reply<Greeting> shout(services::server_call& call, const Hello& req) override {
    auto text = "HELLO, " + req.name();
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return greeting(call, text);
  }

  services::reply<google::protobuf::Empty> ping(services::server_call&,
                                                const google::protobuf::Empty&) override {
    return google::protobuf::Empty{};
  }

  services::reply<services_test::v1::Record::Entry>
  lookup(services::server_call&, const services_test::v1::Key& key) override {
    services_test::v1::Record::Entry entry;
    entry.set_id(key.id());
    entry.set_value("value of " + key.id());
    return entry;
  }

  services::stream_reply<services_test::v1::Tick>
  count(services::server_call& call, const services_test::v1::CountRequest& req) override {
    if (req.n() == 0)
      return caf::make_error(services::rpc_errc::invalid_argument, "n must be > 0");
    auto probe = probe_;
    auto n = req.n();
    auto next = std::make_shared<uint32_t>(0);
    actors::source_fn<services_test::v1::Tick> source =
      [probe, n, next](size_t demand, std::vector<services_test::v1::Tick>& out) {
        probe->max_demand = std::max<int64_t>(probe->max_demand, static_cast<int64_t>(demand));
        while (out.size() < demand && *next < n) {
          services_test::v1::Tick tick;
          tick.set_seq(++*next);
          out.push_back(std::move(tick));
          auto unconsumed = ++probe->produced - probe->consumed;
          probe->max_unconsumed = std::max<int64_t>(probe->max_unconsumed, unconsumed);
        }
        return *next < n ? actors::pull_status::more : actors::pull_status::done;
      };
    if (!probe->own_producer)
      return source;
    auto producer = actors::spawn_producer<services_test::v1::Tick>(
      *call.self(), actors::producer_config{}, std::move(source));
    if (!producer)
      return producer.error();
    return services::stream_reply<services_test::v1::Tick>::owned(std::move(*producer));
  }

private:
  Greeting greeting(services::server_call& call, std::string text) {
    const auto& ctx = call.context();
    Greeting result;
    result.set_text(std::move(text));
    result.set_trace_id(ctx.trace_id);
    result.set_request_id(ctx.request_id);
    result.set_attempt(ctx.attempt);
    result.set_method(ctx.method);
    auto left = call.remaining();
    result.set_remaining_ms(
      left == caf::timespan::max()
        ? -1
        : std::chrono::duration_cast<std::chrono::milliseconds>(left).count());
    return result;
  }

  std::shared_ptr<greeter_probe> probe_;
  caf::actor echo_;
};

/// What a relay's calls to the greeter ended with (the first hop's view).
struct relay_probe {
  std::atomic<int> relayed{0};
  std::atomic<int> deadline_exceeded{0};
  std::atomic<int> other_failures{0};
};

/// Forwards to a Greeter through a stub, from inside its handler.
class relay final : public services_test::v1::Relay::Service {
public:
  using Greeting = services_test::v1::Greeting;
  using Hello = services_test::v1::Hello;

  explicit relay(services::channel greeters,
                 std::shared_ptr<relay_probe> probe = std::make_shared<relay_probe>())
    : greeters_(std::move(greeters)), probe_(std::move(probe)) {
    // nop
  }

  services::reply<Greeting> forward(services::server_call& call, const Hello& req) override {
    actors::logger("services_test")->info("relaying {}", req.name());
    auto later = call.defer<Greeting>();
    greeters_.greet(call.self(), req)
      .then(
        [later, probe = probe_](Greeting& g) mutable {
          ++probe->relayed;
          actors::logger("services_test")->info("relayed {}", g.text());
          later.deliver(g);
        },
        [later, probe = probe_](caf::error& err) mutable {
          if (messages::is(err, services::rpc_errc::deadline_exceeded))
            ++probe->deadline_exceeded;
          else
            ++probe->other_failures;
          actors::logger("services_test")->info("relay failed: {}", messages::describe(err));
          later.fail(err);
        });
    return later;
  }

private:
  services_test::v1::Greeter::Stub greeters_;
  std::shared_ptr<relay_probe> probe_;
};

} // namespace troupe::testing
