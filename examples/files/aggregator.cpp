#include "aggregator.hpp"

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>

#include <caf/all.hpp>

#include <troupe/actors/blocking_pool.hpp>
#include <troupe/actors/consumer.hpp>
#include <troupe/messages/error_category.hpp>
#include <troupe/services/channel.hpp>
#include <troupe/services/rpc_errc.hpp>

#include "records.hpp"

namespace files {

namespace {

using namespace std::chrono_literals;

/// A chunk on its way to the totaller; `done` finishes the stream item.
struct chunk_job {
  v1::Chunk chunk;
  troupe::actors::item_done done;
};

using chunk_job_ptr = std::shared_ptr<chunk_job>;

using totals_ptr = std::shared_ptr<totals_table>;

using finish_atom = caf::atom_constant<caf::atom("fl_finish")>;

} // namespace

} // namespace files

// Local only: a job holds its consumer's completion.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(files::chunk_job_ptr)
// Local only: a chunk's totals, from a pool thread to the totaller.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(files::totals_ptr)

namespace files {

namespace {

/// Blocking: pool threads only. Throws on failure (the pool answers
/// handler_failed with the text).
void commit(const v1::Aggregate& state, const std::string& path) {
  if (auto err = save(state, path))
    throw std::runtime_error(troupe::messages::describe(err));
}

void write_result(const v1::Aggregate& state, const std::string& path) {
  std::map<std::string, v1::Totals> sorted(state.totals().begin(), state.totals().end());
  std::ofstream out{path, std::ios::trunc};
  out << "key,count,sum\n";
  for (auto& [key, t] : sorted)
    out << key << ',' << t.count() << ',' << t.sum() << '\n';
  out.close();
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

/// Totals chunks in file order on the pool and commits them.
class chunk_totaller final : public caf::event_based_actor {
public:
  chunk_totaller(caf::actor_config& cfg, const v1::Aggregate& checkpoint, caf::actor pool,
                 aggregator_settings settings)
    : caf::event_based_actor(cfg),
      offset_(checkpoint.offset()),
      pool_(std::move(pool)),
      settings_(std::move(settings)),
      committed_at_(offset_),
      progress_at_(offset_) {
    totals_.merge(checkpoint);
  }

  const char* name() const override {
    return "files.chunk_totaller";
  }

  caf::behavior make_behavior() override {
    return {
      [this](chunk_job_ptr& job) { total(std::move(job)); },
      [this](finish_atom) -> caf::result<v1::Aggregate> {
        auto rp = make_response_promise<v1::Aggregate>();
        auto final = totals_.to_aggregate(offset_, true);
        troupe::actors::run_blocking(this, pool_, 60s,
                                     [final, s = settings_] {
                                       commit(final, s.checkpoint);
                                       write_result(final, s.result);
                                     })
          .then([rp, final]() mutable { rp.deliver(final); },
                [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      },
    };
  }

private:
  void total(chunk_job_ptr job) {
    auto offset = job->chunk.offset();
    if (offset < offset_) {
      job->done(); // counted before (a redelivery): never twice
      return;
    }
    if (offset > offset_) {
      job->done(caf::make_error(troupe::services::rpc_errc::internal,
                                "chunk at " + std::to_string(offset) + ", expected "
                                  + std::to_string(offset_)));
      return;
    }
    // The pool totals the chunk into a table of its own; the actor merges
    // it: the actor's totals never leave its thread.
    troupe::actors::run_blocking(
      this, pool_, 60s,
      [job] {
        auto part = std::make_shared<totals_table>();
        if (auto err = add_records(job->chunk.data(), job->chunk.offset(), *part))
          throw std::runtime_error(troupe::messages::describe(err));
        return part;
      })
      .then([this, job](totals_ptr& part) { totalled(job, *part); },
            [job](caf::error& err) { job->done(err); });
  }

  void totalled(const chunk_job_ptr& job, const totals_table& part) {
    totals_.merge(part);
    offset_ = job->chunk.offset() + job->chunk.data().size();
    if (offset_ - progress_at_ >= settings_.progress_bytes) {
      progress_at_ = offset_;
      std::printf("progress offset=%llu records=%llu\n",
                  static_cast<unsigned long long>(offset_),
                  static_cast<unsigned long long>(totals_.records));
    }
    if (offset_ - committed_at_ < settings_.commit_bytes) {
      job->done();
      return;
    }
    committed_at_ = offset_;
    auto snapshot = totals_.to_aggregate(offset_, false);
    troupe::actors::run_blocking(
      this, pool_, 60s, [snapshot, path = settings_.checkpoint] { commit(snapshot, path); })
      .then(
        [job, offset = snapshot.offset()] {
          std::printf("committed offset=%llu\n", static_cast<unsigned long long>(offset));
          job->done();
        },
        [job](caf::error& err) { job->done(err); });
  }

  /// Everything in [0, offset_) is in totals_.
  uint64_t offset_;
  totals_table totals_;
  caf::actor pool_;
  aggregator_settings settings_;
  uint64_t committed_at_;
  uint64_t progress_at_;
};

} // namespace

aggregator_outcome run_aggregator(caf::actor_system& sys, const troupe::transport::node& node,
                                  const std::string& host, uint16_t port,
                                  const aggregator_settings& settings) {
  aggregator_outcome outcome;
  auto state = load(settings.checkpoint);
  if (!state) {
    outcome.error = state.error();
    return outcome;
  }
  outcome.resumed_from = state->offset();
  if (state->complete()) {
    outcome.final = std::move(*state);
    return outcome;
  }
  v1::Reader::Stub reader{troupe::services::channel::remote(node.handle(), host, port)};
  v1::ChunkRequest req;
  req.set_from_offset(state->offset());
  auto chunks = reader.chunks(req, settings.capacity, 10s);
  if (!chunks) {
    outcome.error = chunks.error();
    return outcome;
  }
  auto pool = troupe::actors::spawn_blocking_pool(sys, 1);
  if (!pool) {
    caf::anon_send_exit(*chunks, caf::exit_reason::user_shutdown);
    outcome.error = pool.error();
    return outcome;
  }
  auto totaller = sys.spawn<chunk_totaller>(*state, *pool, settings);
  auto stop = [&] {
    caf::anon_send_exit(totaller, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(*pool, caf::exit_reason::user_shutdown);
  };
  // One chunk at a time: totals are committed in file order.
  auto sink = troupe::actors::spawn_consumer<v1::Chunk>(
    sys, *chunks, troupe::actors::consumer_config{settings.capacity, 1},
    [totaller](const v1::Chunk& c, troupe::actors::seq_t, troupe::actors::item_done done) {
      caf::anon_send(totaller, std::make_shared<chunk_job>(chunk_job{c, std::move(done)}));
    });
  if (!sink) {
    caf::anon_send_exit(*chunks, caf::exit_reason::user_shutdown);
    stop();
    outcome.error = sink.error();
    return outcome;
  }
  caf::scoped_actor self{sys};
  self->monitor(*sink);
  self->receive(
    [&](caf::down_msg& dm) {
      if (dm.reason != caf::exit_reason::normal)
        outcome.error = std::move(dm.reason);
    },
    caf::after(settings.lifetime) >>
      [&] {
        outcome.error =
          caf::make_error(caf::sec::request_timeout, "the aggregator's lifetime ended");
        caf::anon_send_exit(*chunks, caf::exit_reason::user_shutdown);
        caf::anon_send_exit(*sink, caf::exit_reason::user_shutdown);
        self->receive([](caf::down_msg&) {});
      });
  if (!outcome.error) {
    self->request(totaller, 120s, finish_atom::value)
      .receive([&](v1::Aggregate& final) { outcome.final = std::move(final); },
               [&](caf::error& err) { outcome.error = std::move(err); });
  }
  stop();
  return outcome;
}

} // namespace files
