#!/usr/bin/env python3
"""A Troupe wire client in Python: proof that a non-C++ program can talk to a
node using nothing but protobuf (python3-protobuf + protoc --python_out).

Starts troupe-transport-test-node (with a shared secret), connects to
127.0.0.1, runs the handshake with HMAC-SHA256 authentication, calls the
published C++ actor "echo", checks the reply, checks the typed error for an
unknown actor, stops the node with SIGTERM and checks it exits with 0, and
only then prints "wire client: OK". A failed check exits non-zero (an
uncaught exception). Every wait is bounded.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "transport", "python"))

import troupe_client  # noqa: E402
from troupe_client import Connection, check  # noqa: E402,F401  (re-exported)

SECRET = b"python shares this secret"


def handshake(conn, wire_pb2, my_id=None):
    """The handshake with the test node's shared secret."""
    return troupe_client.handshake(conn, wire_pb2, my_id, SECRET)


def start_node(program, extra_args=()):
    return troupe_client.start_node([program, "--secret=" + SECRET.decode(), "--lifetime-s=30",
                                     *extra_args])


def stop_node(node):
    """Stops the node with SIGTERM; returns its exit code, 0 for a clean stop."""
    code, _ = troupe_client.stop_node(node)
    return code


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", required=True)
    parser.add_argument("--stubs", required=True)
    args = parser.parse_args()
    sys.path.insert(0, args.stubs)
    from troupe import wire_pb2
    from transport_test.v1 import calls_pb2

    node, port = start_node(args.node)
    try:
        conn = Connection(port, wire_pb2)
        my_id = b"python-client"
        # 1-2. Hello -> Challenge, Auth -> Welcome
        node_id = handshake(conn, wire_pb2, my_id)
        print("handshake done with node", node_id)

        # 3. A request to the published C++ actor "echo".
        call = calls_pb2.Call(text="from python", number=-7, real=2.5, flag=True,
                              blob=b"\x00\xff", name="py")
        call.parts.add(label="p", values=[1, 2, 3])
        call.counts["k"] = 9
        request = wire_pb2.Frame()
        env = request.envelope
        env.receiver.node = node_id
        env.receiver.name = "echo"
        env.sender.node = my_id.decode()
        env.type = "transport_test.v1.Call"
        env.payload = call.SerializeToString()
        env.correlation_id = 4242
        env.deadline_remaining_us = 5_000_000
        env.trace.trace_id = "py-trace"
        env.trace.request_id = "py-req-1"
        env.attempt = 1
        conn.send(request)
        reply = conn.receive()
        check(reply.WhichOneof("kind") == "reply", "expected a reply, got %s" % reply)
        r = reply.reply
        check(r.correlation_id == 4242, "correlation id")
        check(r.type == "transport_test.v1.Answer", "reply type %s" % r.type)
        check(r.trace.trace_id == "py-trace" and r.trace.request_id == "py-req-1", "trace")
        answer = calls_pb2.Answer()
        answer.ParseFromString(r.payload)
        check(answer.echo == call, "the echoed call differs")
        check(answer.handled_by == node_id, "handled_by")
        print("reply:", answer.handled_by, "handled", answer.handled)

        # 4. A request to a name nobody published: a typed error frame.
        request.envelope.receiver.name = "nobody"
        request.envelope.correlation_id = 4243
        conn.send(request)
        error = conn.receive()
        check(error.WhichOneof("kind") == "error", "expected an error frame")
        e = error.error
        check(e.correlation_id == 4243, "error correlation id")
        check(e.error.category == "trp_net" and e.error.code == 13,
              "expected trp_net/13 unknown_actor, got %s" % e.error)
        print("typed error:", e.error.category, e.error.code, e.error.message)

        # 5. Goodbye.
        conn.goodbye("python client done")
    finally:
        code = stop_node(node)
    # The node stops cleanly on SIGTERM: a crash after the exchange fails too.
    check(code == 0, "the node exited with %s after SIGTERM" % code)
    print("wire client: OK")


if __name__ == "__main__":
    main()
