#include "aggregator.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

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

/// A chunk's totals on their way to the totaller; `done` finishes the
/// stream item and, until it is gone, keeps the totals alive: they are read
/// where they arrived, never copied.
struct chunk_job {
  const v1::ChunkTotals* totals;
  troupe::actors::item_done done;
};

using chunk_job_ptr = std::shared_ptr<chunk_job>;

using finish_atom = caf::atom_constant<caf::atom("fl_finish")>;
using checkpoint_atom = caf::atom_constant<caf::atom("fl_ckpt")>;

} // namespace

} // namespace files

// Local only: a job holds its consumer's completion.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(files::chunk_job_ptr)

namespace files {

namespace {

/// Blocking: pool threads only. The result first, then the complete
/// checkpoint: a crash between the two leaves an incomplete checkpoint,
/// and the next run writes both again.
caf::expected<v1::Aggregate> write_result(const v1::Aggregate& state, const std::string& path,
                                          const std::string& checkpoint) {
  std::map<std::string, v1::Totals> sorted(state.totals().begin(), state.totals().end());
  auto tmp = path + ".tmp";
  {
    std::ofstream out{tmp, std::ios::trunc};
    out << "key,count,sum\n";
    for (auto& [key, t] : sorted)
      out << key << ',' << t.count() << ',' << t.sum() << '\n';
    out.close();
    if (!out)
      return caf::make_error(troupe::services::rpc_errc::internal, "cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return caf::make_error(troupe::services::rpc_errc::internal, "cannot rename to " + path);
  if (auto err = save(state, checkpoint))
    return err;
  return state;
}

using chunk_totaller_actor =
  caf::typed_actor<caf::reacts_to<chunk_job_ptr>,
                   caf::replies_to<finish_atom>::with<v1::Aggregate>,
                   caf::replies_to<checkpoint_atom>::with<uint64_t>>;

/// Merges the chunks' totals in file order (the stream brings them in
/// order): the totals hold exactly the records of [0, offset_), so what is
/// committed is exact.
class chunk_totaller final : public chunk_totaller_actor::base {
public:
  chunk_totaller(caf::actor_config& cfg, const v1::Aggregate& checkpoint, caf::actor pool,
                 aggregator_settings settings)
    : chunk_totaller_actor::base(cfg),
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

private:
  /// Saves `snapshot` as the checkpoint on the pool's one thread, after
  /// any commit before it, and says so; its offset when done.
  auto commit(v1::Aggregate snapshot) {
    return troupe::actors::run_blocking(
      this, pool_, 60s,
      [snapshot = std::move(snapshot),
       path = settings_.checkpoint]() -> caf::expected<uint64_t> {
        if (auto err = save(snapshot, path))
          return err;
        std::printf("committed offset=%llu\n",
                    static_cast<unsigned long long>(snapshot.offset()));
        return snapshot.offset();
      });
  }

public:
  behavior_type make_behavior() override {
    return {
      [this](chunk_job_ptr& job) { total(job); },
      [this](finish_atom) -> caf::result<v1::Aggregate> {
        auto rp = make_response_promise<v1::Aggregate>();
        troupe::actors::run_blocking(
          this, pool_, 60s,
          [final = totals_.to_aggregate(offset_, true), s = settings_] {
            return write_result(final, s.result, s.checkpoint);
          })
          .then([rp](v1::Aggregate& final) mutable { rp.deliver(std::move(final)); },
                [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      },
      [this](checkpoint_atom) -> caf::result<uint64_t> {
        // The stream ended early: commit what was merged (exact: chunks
        // merge in file order), so the next run goes on from here. Also
        // when nothing is new: the answer then waits for a commit still on
        // the pool (one thread, in order), and retries one that failed.
        committed_at_ = offset_;
        auto rp = make_response_promise<uint64_t>();
        commit(totals_.to_aggregate(offset_, false))
          .then([rp](uint64_t offset) mutable { rp.deliver(offset); },
                [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      },
    };
  }

private:
  void total(const chunk_job_ptr& job) {
    const auto& part = *job->totals;
    if (part.end() <= offset_) {
      // An empty chunk (a record spans its cut) or one counted already (a
      // redelivery): never twice.
      job->done();
      return;
    }
    if (part.offset() != offset_) {
      job->done(caf::make_error(troupe::services::rpc_errc::internal,
                                "chunk at " + std::to_string(part.offset()) + ", expected "
                                  + std::to_string(offset_)));
      return;
    }
    totals_.merge(part);
    totalled(job, part.end());
  }

  void totalled(const chunk_job_ptr& job, uint64_t end) {
    offset_ = end;
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
    commit(totals_.to_aggregate(offset_, false))
      .then([job](uint64_t) { job->done(); }, [job](caf::error& err) { job->done(err); });
  }

  /// Everything in [0, offset_) is in totals_.
  uint64_t offset_;
  totals_table totals_;
  /// Writes the checkpoints and the result.
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
  auto chunks = reader.totals(req, settings.capacity, 10s);
  if (!chunks) {
    outcome.error = chunks.error();
    return outcome;
  }
  // One thread, on purpose: checkpoints are written in the order they were
  // taken, and the result after the last of them. Two threads could rename
  // an older checkpoint over a newer one.
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
  // `in_flight` chunks at once: one may wait for its commit while the
  // next ones merge.
  auto sink = troupe::actors::spawn_consumer<v1::ChunkTotals>(
    sys, *chunks,
    troupe::actors::consumer_config{settings.capacity,
                                    std::min(settings.in_flight, settings.capacity)},
    [totaller](const v1::ChunkTotals& c, troupe::actors::seq_t,
               troupe::actors::item_done done) {
      caf::anon_send(totaller, std::make_shared<chunk_job>(chunk_job{&c, std::move(done)}));
    });
  if (!sink) {
    caf::anon_send_exit(*chunks, caf::exit_reason::user_shutdown);
    stop();
    outcome.error = sink.error();
    return outcome;
  }
  caf::scoped_actor self{sys};
  self->monitor(*sink);
  // Until the stream ends, the lifetime ends or a stop is asked for.
  auto until = std::chrono::steady_clock::now() + settings.lifetime;
  for (bool running = true; running;) {
    self->receive(
      [&](caf::down_msg& dm) {
        if (dm.reason != caf::exit_reason::normal)
          outcome.error = std::move(dm.reason);
        running = false;
      },
      caf::after(250ms) >> [] {});
    if (!running)
      break;
    bool stop_asked = settings.stop_requested && settings.stop_requested();
    if (stop_asked || std::chrono::steady_clock::now() >= until) {
      outcome.error = stop_asked
        ? caf::make_error(troupe::services::rpc_errc::cancelled,
                          "the aggregator was asked to stop")
        : caf::make_error(troupe::services::rpc_errc::deadline_exceeded,
                          "the aggregator's lifetime ended");
      caf::anon_send_exit(*chunks, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(*sink, caf::exit_reason::user_shutdown);
      self->receive([](caf::down_msg&) {}, caf::after(10s) >> [] {});
      running = false;
    }
  }
  if (outcome.error) {
    self->request(totaller, 60s, checkpoint_atom::value)
      .receive([](uint64_t) {},
               [](caf::error&) {
                 // the last checkpoint stands
               });
  } else {
    self->request(totaller, 120s, finish_atom::value)
      .receive([&](v1::Aggregate& final) { outcome.final = std::move(final); },
               [&](caf::error& err) { outcome.error = std::move(err); });
  }
  stop();
  return outcome;
}

} // namespace files
