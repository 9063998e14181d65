#!/usr/bin/env python3
"""Imports a remote stream in Python, from docs/wire-protocol.md §5 alone.

Starts troupe-transport-test-node exporting a stream of N transport_test.v1.Tally
items (handled = 1..N) as "tallies", connects and authenticates as the wire
client does, then pulls the whole stream with a capacity of 64 and checks:
every item arrives exactly once, the exporter never sends more than the
credit granted, the stream ends with `done` and no error, the session errors
(stream_conflict, unknown_stream, invalid_config) come as the spec says, and
the item held by a session whose connection closed is redelivered, and that
the node exits with 0 on SIGTERM. Exits 0 only if every check holds, and
only then prints "stream client: OK"; every wait is bounded.
"""

import argparse
import os
import struct
import sys

from wire_client import Connection, check, handshake, start_node, stop_node
from troupe_client import StreamImporter as Importer  # noqa: F401  (capacity 64)

CAPACITY = 64


def expect_error(outcome, code, what):
    kind, value = outcome
    check(kind == "error", what + ": expected an error, got a Batch")
    check(value.category == "trp_net" and value.code == code,
          "%s: expected trp_net/%d, got %s/%d" % (what, code, value.category, value.code))


def import_all(imp, tally_type, stream_id, items, type_name="transport_test.v1.Tally",
               value_of=lambda item: item.handled):
    """Pulls the stream of `type_name` items to its end, checking the credit
    bound on every Batch; returns value_of(item) for each item in arrival
    order, and the number of Pulls."""
    received = [value_of(item) for item in
                imp.items(tally_type, type_name, max_pulls=4 * items + 100, stream_id=stream_id)]
    return received, imp.pulls


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", required=True)
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--items", type=int, default=10_000)
    args = parser.parse_args()
    sys.path.insert(0, args.stubs)
    from troupe import flow_pb2, wire_pb2
    from transport_test.v1 import calls_pb2

    node, port = start_node(args.node, ["--stream-items=%d" % args.items])
    try:
        conn = Connection(port, wire_pb2)
        node_id = handshake(conn, wire_pb2, b"python-importer")
        imp = Importer(conn, wire_pb2, flow_pb2, node_id, "tallies")
        # A second connection, for the session errors.
        stray_conn = Connection(port, wire_pb2)
        handshake(stray_conn, wire_pb2, b"python-stray")
        stray = Importer(stray_conn, wire_pb2, flow_pb2, node_id, "tallies")
        stream_id = struct.unpack("<Q", os.urandom(8))[0] | 1
        stray_id = stream_id ^ 0xFFFF

        # A Pull without `open` for a session nobody opened; `open` with
        # capacity 0.
        expect_error(stray.pull(stray_id, 4, 0), 21, "unknown stream")
        expect_error(stray.pull(stray_id, 4, 0, open_=True, capacity=0), 1, "capacity 0")
        # The stray connection opens a session and takes one item. Reopening
        # it, acknowledging items never sent, and pulling it from another
        # connection are conflicts that leave the session as it was.
        kind, first = stray.pull(stray_id, 1, 0, open_=True, capacity=1)
        check(kind == "batch" and first.count == 1 and first.first_seq == 1, "first item")
        expect_error(stray.pull(stray_id, 1, 0, open_=True, capacity=1), 20, "reopen")
        expect_error(stray.pull(stray_id, 0, 5), 20, "acknowledging unsent items")
        expect_error(imp.pull(stray_id, 0, 1), 20, "another connection's session")
        # The stray connection closes without acknowledging: its item goes
        # back to the producer, and the import below receives it.
        stray_conn.sock.close()

        received, pulls = import_all(imp, calls_pb2.Tally, stream_id, args.items)
        check(len(received) == args.items, "received %d items, expected %d"
              % (len(received), args.items))
        check(sorted(received) == list(range(1, args.items + 1)),
              "every item exactly once")
        print("imported %d items in %d Pulls (capacity %d)" % (len(received), pulls, CAPACITY))

        conn.goodbye("python importer done")
    finally:
        code = stop_node(node)
    # The node stops cleanly on SIGTERM: a crash after the import fails too.
    check(code == 0, "the node exited with %s after SIGTERM" % code)
    print("stream client: OK")


if __name__ == "__main__":
    main()
