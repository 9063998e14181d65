#!/usr/bin/env python3
"""A Python client of a C++ Troupe service, with nothing but protobuf
(python3-protobuf + protoc --python_out) and the wire protocol
(docs/wire-protocol.md §7).

Starts troupe-services-test-node, handshakes, calls the unary method
Greet of services_test.v1.Greeter and checks the context the handler saw
(method, W3C trace id, request id, attempt), calls Shout (the same request
type, another method), checks a typed status (trp_rpc/5 not_found) and
calls the server-streaming method Count, importing its stream as a remote
stream (at the importer's capacity, 64). Stops the node with SIGTERM, checks it exits with 0, and
only then prints "service client: OK". A failed check exits non-zero.
"""

import argparse
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "transport", "python"))

from stream_client import Importer, import_all  # noqa: E402
from wire_client import Connection, check, handshake, start_node, stop_node  # noqa: E402
from troupe_client import ServiceCaller  # noqa: E402

SERVICE = "services_test.v1.Greeter"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"


class Caller(ServiceCaller):
    """Calls Greeter with a fixed trace context, to check what crosses."""

    def __init__(self, conn, wire_pb2, node_id):
        super().__init__(conn, wire_pb2, node_id, SERVICE, trace_id=TRACE_ID)

    def call(self, method, request, request_id, deadline_us=5_000_000):
        return super().call(method, request, request_id, deadline_us, span_id=SPAN_ID)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", required=True)
    parser.add_argument("--stubs", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.stubs)
    from troupe import flow_pb2, service_pb2, wire_pb2
    from services_test.v1 import common_pb2, greeter_pb2

    node, port = start_node(args.node)
    try:
        conn = Connection(port, wire_pb2)
        node_id = handshake(conn, wire_pb2, b"python-service-client")
        caller = Caller(conn, wire_pb2, node_id)

        # 1. A unary call: the handler sees the method and the context.
        kind, reply = caller.call("Greet", greeter_pb2.Hello(name="py"), "py-req-1")
        check(kind == "reply", "Greet failed: %s" % (reply,))
        check(reply.type == "services_test.v1.Greeting", "reply type " + reply.type)
        greeting = greeter_pb2.Greeting()
        greeting.ParseFromString(reply.payload)
        check(greeting.text == "hello, py", "text %r" % greeting.text)
        check(greeting.method == "/services_test.v1.Greeter/Greet", "method")
        check(greeting.trace_id == TRACE_ID, "the handler saw trace %s" % greeting.trace_id)
        check(greeting.request_id == "py-req-1", "request id")
        check(greeting.attempt == 1, "attempt")
        check(0 < greeting.remaining_ms <= 5000, "remaining %d ms" % greeting.remaining_ms)
        check(reply.trace.trace_id == TRACE_ID and reply.trace.span_id == SPAN_ID,
              "the reply copies the trace context")
        print("Greet:", greeting.text, "trace", greeting.trace_id)

        # 2. Another method with the same request type.
        kind, reply = caller.call("Shout", greeter_pb2.Hello(name="py"), "py-req-2")
        check(kind == "reply", "Shout failed: %s" % (reply,))
        greeting.ParseFromString(reply.payload)
        check(greeting.text == "HELLO, PY", "Shout text %r" % greeting.text)

        # 3. A typed status crosses the wire: trp_rpc/5 not_found.
        kind, status = caller.call("Greet", greeter_pb2.Hello(name="py", mode="fail:5"),
                                   "py-req-3")
        check(kind == "error", "expected a status")
        check(status.category == "trp_rpc" and status.code == 5,
              "expected trp_rpc/5, got %s/%d" % (status.category, status.code))
        print("status:", status.category, status.code, status.message)

        # 4. A method the service does not implement: trp_rpc/12.
        kind, status = caller.call("NotImplemented", common_pb2.Key(id="k"), "py-req-4")
        check(kind == "error" and status.category == "trp_rpc" and status.code == 12,
              "expected trp_rpc/12 unimplemented, got %s" % (status,))

        # 5. A server-streaming method: the reply names the stream, which is
        # an ordinary remote stream pulled at our capacity.
        items = 500
        kind, reply = caller.call("Count", greeter_pb2.CountRequest(n=items), "py-req-5")
        check(kind == "reply", "Count failed: %s" % (reply,))
        check(reply.type == "troupe.StreamOpened", "reply type " + reply.type)
        opened = service_pb2.StreamOpened()
        opened.ParseFromString(reply.payload)
        check(opened.item_type == "services_test.v1.Tick", "item type " + opened.item_type)
        imp = Importer(conn, wire_pb2, flow_pb2, node_id, opened.stream)
        stream_id = struct.unpack("<Q", os.urandom(8))[0] | 1
        received, pulls = import_all(imp, greeter_pb2.Tick, stream_id, items,
                                     type_name="services_test.v1.Tick",
                                     value_of=lambda tick: tick.seq)
        check(sorted(received) == list(range(1, items + 1)), "every tick exactly once")
        print("streamed %d ticks in %d Pulls" % (len(received), pulls))

        conn.goodbye("python service client done")
    finally:
        code = stop_node(node)
    check(code == 0, "the node exited with %s after SIGTERM" % code)
    print("service client: OK")


if __name__ == "__main__":
    main()
