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
import hashlib
import hmac
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

SECRET = b"python shares this secret"
TIMEOUT_S = 10.0


def encode_varint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class Connection:
    """Length-delimited troupe.wire.Frame messages over one TCP socket."""

    def __init__(self, port, wire_pb2):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
        self.buf = b""
        self.wire = wire_pb2

    def goodbye(self, text):
        """Says Goodbye{trp_net/15 node_stopped} and closes."""
        bye = self.wire.Frame()
        bye.goodbye.reason.category = "trp_net"
        bye.goodbye.reason.code = 15
        bye.goodbye.reason.message = text
        self.send(bye)
        self.sock.close()

    def send(self, frame):
        body = frame.SerializeToString()
        self.sock.sendall(encode_varint(len(body)) + body)

    def _read_more(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no frame in time")
        ready, _, _ = select.select([self.sock], [], [], left)
        if not ready:
            raise TimeoutError("no frame in time")
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("node closed the connection")
        self.buf += chunk

    def receive(self):
        """Returns the next frame that is not a heartbeat (pings get a pong)."""
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            # varint length prefix
            length, shift, pos = 0, 0, 0
            while True:
                if pos >= len(self.buf):
                    self._read_more(deadline)
                    continue
                byte = self.buf[pos]
                length |= (byte & 0x7F) << shift
                pos += 1
                if not byte & 0x80:
                    break
                shift += 7
            while len(self.buf) < pos + length:
                self._read_more(deadline)
            frame = self.wire.Frame()
            frame.ParseFromString(self.buf[pos:pos + length])
            self.buf = self.buf[pos + length:]
            if frame.WhichOneof("kind") == "heartbeat":
                if not frame.heartbeat.reply:
                    pong = self.wire.Frame()
                    pong.heartbeat.timestamp_us = frame.heartbeat.timestamp_us
                    pong.heartbeat.reply = True
                    self.send(pong)
                continue
            return frame


def proof(label, hello_nonce, challenge_nonce, initiator_id, acceptor_id):
    """HMAC-SHA256 over the label and four length-prefixed fields."""
    data = label
    for field in (hello_nonce, challenge_nonce, initiator_id, acceptor_id):
        data += struct.pack(">I", len(field)) + field
    return hmac.new(SECRET, data, hashlib.sha256).digest()


def start_node(program, extra_args=()):
    node = subprocess.Popen([program, "--secret=" + SECRET.decode(), "--lifetime-s=30",
                             *extra_args],
                            stdout=subprocess.PIPE)
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([node.stdout], [], [], 0.5)
        if ready:
            line = node.stdout.readline().decode()
            if line.startswith("PORT "):
                return node, int(line.split()[1])
    node.kill()
    raise TimeoutError("the node did not print its port")


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def handshake(conn, wire_pb2, my_id=b"python-client"):
    """Runs the initiator's side of the handshake (docs/wire-protocol.md §2)
    with the shared secret; returns the node's id."""
    my_nonce = os.urandom(16)
    # 1. Hello -> Challenge
    hello = wire_pb2.Frame()
    hello.hello.protocol_version = 1
    hello.hello.node_id = my_id.decode()
    hello.hello.nonce = my_nonce
    conn.send(hello)
    challenge = conn.receive()
    check(challenge.WhichOneof("kind") == "challenge", "expected a challenge")
    ch = challenge.challenge
    node_id = ch.node_id.encode()
    expected = proof(b"troupe-v1/acceptor", my_nonce, ch.nonce, my_id, node_id)
    check(hmac.compare_digest(expected, ch.proof), "the node's proof is wrong")
    # 2. Auth -> Welcome
    auth = wire_pb2.Frame()
    auth.auth.proof = proof(b"troupe-v1/initiator", my_nonce, ch.nonce, my_id, node_id)
    conn.send(auth)
    welcome = conn.receive()
    check(welcome.WhichOneof("kind") == "welcome", "expected a welcome, got %s" % welcome)
    return ch.node_id


def stop_node(node):
    """Stops the node with SIGTERM (a kill if it does not exit in time);
    returns its exit code, 0 for a clean stop."""
    node.send_signal(signal.SIGTERM)
    try:
        node.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        node.kill()
        node.wait()
    return node.returncode


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
