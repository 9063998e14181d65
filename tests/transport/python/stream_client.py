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

CAPACITY = 64


def decode_varint(data, pos):
    value, shift = 0, 0
    while True:
        check(pos < len(data) and shift <= 63, "truncated varint in Batch.items")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7


class Importer:
    """One remote-stream session over an authenticated connection."""

    def __init__(self, conn, wire_pb2, flow_pb2, node_id, name):
        self.conn = conn
        self.wire = wire_pb2
        self.flow = flow_pb2
        self.node_id = node_id
        self.name = name
        self.next_corr = 1

    def request(self, pull):
        """Sends one Pull; returns ("batch", Batch) or ("error", troupe.Error)."""
        corr = self.next_corr
        self.next_corr += 1
        frame = self.wire.Frame()
        env = frame.envelope
        env.receiver.node = self.node_id
        env.receiver.name = self.name
        env.sender.node = "python-importer"
        env.type = "troupe.flow.Pull"
        env.payload = pull.SerializeToString()
        env.correlation_id = corr
        env.deadline_remaining_us = 5_000_000  # > the exporter's poll interval
        self.conn.send(frame)
        answer = self.conn.receive()
        kind = answer.WhichOneof("kind")
        if kind == "reply":
            check(answer.reply.correlation_id == corr, "reply to another request")
            check(answer.reply.type == "troupe.flow.Batch", "reply type " + answer.reply.type)
            batch = self.flow.Batch()
            batch.ParseFromString(answer.reply.payload)
            return "batch", batch
        check(kind == "error", "expected a reply or an error frame, got %s" % answer)
        check(answer.error.correlation_id == corr, "error for another request")
        return "error", answer.error.error

    def pull(self, stream_id, credit, acked_through, open_=False, capacity=0):
        pull = self.flow.Pull(stream_id=stream_id, credit=credit,
                              acked_through=acked_through, open=open_, capacity=capacity)
        return self.request(pull)


def expect_error(outcome, code, what):
    kind, value = outcome
    check(kind == "error", what + ": expected an error, got a Batch")
    check(value.category == "trp_net" and value.code == code,
          "%s: expected trp_net/%d, got %s/%d" % (what, code, value.category, value.code))


def import_all(imp, tally_type, stream_id, items, type_name="transport_test.v1.Tally",
               value_of=lambda item: item.handled):
    """Pulls the stream of `type_name` items to its end; returns value_of(item)
    for each item in arrival order."""
    received = []
    next_number = 1   # the number the next item must have
    acked = 0         # acknowledged through this number
    credit_left = CAPACITY
    kind, batch = imp.pull(stream_id, CAPACITY, 0, open_=True, capacity=CAPACITY)
    pulls = 1
    while True:
        check(kind == "batch", "Pull failed: %s" % (batch,))
        check(batch.stream_id == stream_id, "Batch for another stream")
        check(batch.count <= credit_left,
              "the exporter sent %d items on %d credit" % (batch.count, credit_left))
        if batch.count:
            check(batch.first_seq == next_number,
                  "first_seq %d, expected %d" % (batch.first_seq, next_number))
            check(batch.item_type == type_name, "item type " + batch.item_type)
        data, pos = batch.items, 0
        for _ in range(batch.count):
            size, pos = decode_varint(data, pos)
            check(pos + size <= len(data), "an item runs past Batch.items")
            tally = tally_type()
            tally.ParseFromString(data[pos:pos + size])
            pos += size
            received.append(value_of(tally))
        check(pos == len(data), "bytes left after the Batch's items")
        credit_left -= batch.count
        next_number += batch.count
        if batch.done:
            check(not batch.HasField("error"), "the stream failed: %s" % batch.error)
            break
        # Everything received is finished: acknowledge it and grant as much
        # credit back, so held items + unused credit never exceed CAPACITY.
        newly = next_number - 1 - acked
        acked = next_number - 1
        credit_left += newly
        kind, batch = imp.pull(stream_id, newly, acked)
        pulls += 1
        check(pulls <= 4 * items + 100, "too many Pulls: the stream does not end")
    # A last Pull acknowledges what the done Batch brought; the session then
    # ends. (If everything was acknowledged before, it has ended already.)
    if next_number - 1 > acked:
        kind, last = imp.pull(stream_id, 0, next_number - 1)
        pulls += 1
        if kind == "batch":
            check(last.done and last.count == 0, "the final answer is an empty done Batch")
        else:
            check(last.category == "trp_net" and last.code in (13, 21), "final Pull: %s" % last)
    return received, pulls


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
