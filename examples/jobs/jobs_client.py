#!/usr/bin/env python3
"""A Python client of the job service (examples/jobs), with nothing but
protobuf and Troupe's wire protocol (transport/python/troupe_client.py).

Starts troupe-jobs, then submits a mix of jobs, for every six:
  - a long one it cancels while it runs: its tasks run their cleanup;
  - one whose task fails: its siblings are cancelled, the job FAILED;
  - one whose deadline passes: its tasks are cancelled, TIMED_OUT;
  - three that finish: DONE, every task committed.
It watches one job's status stream from QUEUED or RUNNING to DONE, watches
every job to its end, checks each outcome and the service's summary, refuses
a bad job (typed invalid_argument) and an unknown id (not_found), stops the
server with SIGTERM, and checks its last line: the counts again, and no
actor left running. A second, small server checks the bounds: a job beyond
--max-jobs is refused, a final status beyond --kept-ended is forgotten. Prints "jobs client: OK", then the server's line last:

  jobs submitted=<n> done=<n> failed=<n> cancelled=<n> timed_out=<n>
       cleanup_ran=<n> leaked_actors=0

A failed check exits non-zero. Every wait is bounded.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "transport", "python"))

from troupe_client import (Connection, ServiceCaller, StreamImporter, check,  # noqa: E402
                           handshake, start_node, stop_node)

SERVICE = "jobs.v1.Jobs"
KINDS = ["cancel", "fail", "deadline", "done", "done", "done"]


def spec_for(jobs_pb2, kind, n):
    """What a job of `kind` asks for."""
    spec = jobs_pb2.JobSpec(name="%s-%d" % (kind, n), tasks=4, task_ms=60, commit_ms=20)
    if kind == "cancel":
        spec.task_ms = 30_000        # runs until cancelled
    elif kind == "fail":
        spec.fail_task = 2
    elif kind == "deadline":
        spec.task_ms = 30_000
        spec.deadline_ms = 150
    elif kind == "watched":
        spec.task_ms = 200
    return spec


def state_name(jobs_pb2, status):
    return jobs_pb2.JobState.Name(status.state)


def watch(jobs, pb, job_id):
    """Every status the job reports, to its final one: a server-streaming
    call answers with the stream's name, pulled at our capacity (16)."""
    kind, reply = jobs.call("Watch", pb.jobs.JobRef(id=job_id))
    check(kind == "reply", "Watch(%d) failed: %s" % (job_id, reply))
    opened = jobs.parse(reply, pb.service.StreamOpened)
    check(opened.item_type == "jobs.v1.JobStatus", "item type " + opened.item_type)
    stream = StreamImporter(jobs.conn, pb.wire, pb.flow, jobs.node_id, opened.stream,
                            capacity=16)
    statuses = list(stream.items(pb.jobs.JobStatus, "jobs.v1.JobStatus", max_pulls=1000))
    check(statuses, "job %d: an empty status stream" % job_id)
    return statuses


def check_bounds(program, pb):
    """A server that may hold 2 jobs and keep 1 final status: a third job is
    refused (trp_rpc/8 resource_exhausted), and the older of two ended jobs
    is forgotten (trp_rpc/5 not_found)."""
    env = dict(os.environ, SPDLOG_LEVEL=os.environ.get("SPDLOG_LEVEL", "warn"))
    server, port = start_node([program, "--max-running=1", "--max-jobs=2", "--kept-ended=1",
                               "--lifetime-s=60"], env=env)
    try:
        conn = Connection(port, pb.wire)
        jobs = ServiceCaller(conn, pb.wire, handshake(conn, pb.wire), SERVICE)
        ids = []
        for n in range(2):
            kind, reply = jobs.call("Submit", spec_for(pb.jobs, "cancel", n))
            check(kind == "reply", "Submit failed: %s" % (reply,))
            ids.append(jobs.parse(reply, pb.jobs.JobRef).id)
        kind, status = jobs.call("Submit", spec_for(pb.jobs, "cancel", 2))
        check(kind == "error" and status.category == "trp_rpc" and status.code == 8,
              "a third job: expected trp_rpc/8 resource_exhausted, got %s" % (status,))
        for job_id in ids:  # the first runs, the second waits: both end cancelled
            kind, reply = jobs.call("Cancel", pb.jobs.JobRef(id=job_id))
            check(kind == "reply" and jobs.parse(reply, pb.jobs.JobStatus).state
                  == pb.jobs.CANCELLED, "Cancel(%d): %s" % (job_id, reply))
        kind, status = jobs.call("Status", pb.jobs.JobRef(id=ids[0]))
        check(kind == "error" and status.code == 5, "the older ended job is forgotten")
        kind, reply = jobs.call("Status", pb.jobs.JobRef(id=ids[1]))
        check(kind == "reply" and jobs.parse(reply, pb.jobs.JobStatus).state
              == pb.jobs.CANCELLED, "the newer ended job is kept")
        kind, reply = jobs.call("Submit", spec_for(pb.jobs, "done", 3))
        check(kind == "reply", "room again once jobs ended: %s" % (reply,))
        conn.goodbye("bounds checked")
    except BaseException:
        stop_node(server)
        raise
    code, output = stop_node(server)
    check(code == 0 and "leaked_actors=0" in output,
          "the bounded server exited with %s:\n%s" % (code, output))
    print("bounds: a third job refused, the older final status forgotten")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True, help="the troupe-jobs program")
    parser.add_argument("--stubs", required=True, help="the generated Python code")
    parser.add_argument("--jobs", type=int, default=24, help="jobs to submit (a multiple of 6)")
    args = parser.parse_args()
    check(args.jobs > 0 and args.jobs % 6 == 0, "--jobs must be a positive multiple of 6")
    sys.path.insert(0, args.stubs)
    from troupe import flow_pb2, service_pb2, wire_pb2
    import jobs_pb2
    pb = argparse.Namespace(wire=wire_pb2, flow=flow_pb2, service=service_pb2, jobs=jobs_pb2)

    started = time.monotonic()
    # The server's own log: warnings and up unless SPDLOG_LEVEL says more.
    env = dict(os.environ, SPDLOG_LEVEL=os.environ.get("SPDLOG_LEVEL", "warn"))
    server, port = start_node([args.server, "--max-running=4", "--lifetime-s=100"], env=env)
    try:
        conn = Connection(port, wire_pb2, timeout_s=30.0)
        node_id = handshake(conn, wire_pb2, b"python-jobs-client")
        jobs = ServiceCaller(conn, wire_pb2, node_id, SERVICE)

        # Bad input gets a typed status, and nothing is submitted.
        kind, status = jobs.call("Submit", jobs_pb2.JobSpec(name="empty", tasks=0))
        check(kind == "error" and status.category == "trp_rpc" and status.code == 3,
              "a job without tasks: expected trp_rpc/3 invalid_argument, got %s" % (status,))
        kind, status = jobs.call("Status", jobs_pb2.JobRef(id=999_999))
        check(kind == "error" and status.category == "trp_rpc" and status.code == 5,
              "an unknown job: expected trp_rpc/5 not_found, got %s" % (status,))

        # Submit: the long ones first, so they hold slots when cancelled.
        kinds = sorted((KINDS[i % len(KINDS)] for i in range(args.jobs)),
                       key=lambda k: k != "cancel")
        check(kinds[-1] == "done", "the last job is one that finishes")
        submitted = {}
        for n, kind_of in enumerate(kinds):
            last = n == len(kinds) - 1
            kind, reply = jobs.call("Submit",
                                    spec_for(jobs_pb2, "watched" if last else kind_of, n))
            check(kind == "reply", "Submit failed: %s" % (reply,))
            submitted[jobs.parse(reply, jobs_pb2.JobRef).id] = kind_of
        print("submitted %d jobs (4 run at once)" % len(submitted))

        # Cancel answers once the job stopped: its cleanups have run.
        finals = {}
        for job_id, kind_of in submitted.items():
            if kind_of != "cancel":
                continue
            kind, reply = jobs.call("Cancel", jobs_pb2.JobRef(id=job_id))
            check(kind == "reply", "Cancel failed: %s" % (reply,))
            finals[job_id] = jobs.parse(reply, jobs_pb2.JobStatus)
            print("cancelled job %d: %s, %d cleanups" % (job_id, state_name(jobs_pb2,
                  finals[job_id]), finals[job_id].cleanups))

        # Watch the last job submitted: it still waits for a slot (QUEUED),
        # then runs, reports each task, and ends DONE.
        detailed = max(i for i, k in submitted.items() if k == "done")
        statuses = watch(jobs, pb, detailed)
        steps = [(state_name(jobs_pb2, s), s.tasks_done) for s in statuses]
        print("watched job %d: %s" % (detailed, steps))
        done = [s.tasks_done for s in statuses]
        check(done == sorted(done), "tasks_done went backwards: %s" % done)
        check(statuses[-1].state == jobs_pb2.DONE, "the watch ends with DONE")
        check(len(statuses) >= 2, "the watch saw only the end: %s" % steps)
        finals[detailed] = statuses[-1]

        # Watch every other job to its end.
        for job_id, kind_of in submitted.items():
            if job_id in finals:
                continue
            statuses = watch(jobs, pb, job_id)
            finals[job_id] = statuses[-1]
            print("job %d (%s): %s, %d/%d tasks, %d cleanups" % (
                job_id, statuses[-1].name, state_name(jobs_pb2, statuses[-1]),
                statuses[-1].tasks_done, statuses[-1].tasks, statuses[-1].cleanups))

        # Each outcome is the one its kind asks for.
        expected = {"cancel": jobs_pb2.CANCELLED, "fail": jobs_pb2.FAILED,
                    "deadline": jobs_pb2.TIMED_OUT, "done": jobs_pb2.DONE}
        for job_id, kind_of in submitted.items():
            s = finals[job_id]
            check(s.state == expected[kind_of], "job %d (%s) ended %s" % (
                job_id, kind_of, state_name(jobs_pb2, s)))
            check(s.cleanups + s.tasks_done <= s.tasks, "job %d: counts exceed its tasks" % job_id)
            if kind_of == "done":
                check(s.tasks_done == s.tasks and s.commits == s.tasks and s.cleanups == 0,
                      "job %d: %s" % (job_id, s))
            elif kind_of == "deadline":
                # Every task was working (30 s of it): each ran its cleanup.
                check(s.tasks_done == 0 and s.cleanups == s.tasks, "job %d: %s" % (job_id, s))
            elif kind_of == "cancel":
                # Running when cancelled: every task ran its cleanup; still
                # queued: no task had started.
                check(s.tasks_done == 0 and s.cleanups in (0, s.tasks), "job %d: %s" % (job_id, s))
            else:
                check("failed (as asked)" in s.error, "job %d: error %r" % (job_id, s.error))

        check(any(finals[i].cleanups for i, k in submitted.items() if k == "cancel"),
              "no cancelled job ran its cleanups")
        kind, reply = jobs.call("Summary", jobs_pb2.SummaryRequest())
        check(kind == "reply", "Summary failed: %s" % (reply,))
        summary = jobs.parse(reply, jobs_pb2.JobsSummary)
        count = {k: kinds.count(k) for k in expected}
        check(summary.submitted == args.jobs and summary.done == count["done"]
              and summary.failed == count["fail"] and summary.cancelled == count["cancel"]
              and summary.timed_out == count["deadline"] and summary.running == 0
              and summary.queued == 0, "summary: %s" % summary)
        check(summary.cleanup_ran == sum(s.cleanups for s in finals.values()),
              "cleanup_ran %d" % summary.cleanup_ran)
        conn.goodbye("jobs client done")
    except BaseException:
        stop_node(server)
        raise
    code, output = stop_node(server)
    check(code == 0, "troupe-jobs exited with %s after SIGTERM:\n%s" % (code, output))
    lines = [line for line in output.splitlines() if line.startswith("jobs submitted=")]
    check(lines, "troupe-jobs printed no summary line:\n" + output)
    line = lines[-1]
    expected_line = ("jobs submitted=%d done=%d failed=%d cancelled=%d timed_out=%d "
                     "cleanup_ran=%d leaked_actors=0" % (
                         summary.submitted, summary.done, summary.failed, summary.cancelled,
                         summary.timed_out, summary.cleanup_ran))
    check(line == expected_line, "server says %r, expected %r" % (line, expected_line))
    check_bounds(args.server, pb)
    print("%d jobs in %.1f s" % (args.jobs, time.monotonic() - started))
    print("jobs client: OK")
    print(line)


if __name__ == "__main__":
    main()
