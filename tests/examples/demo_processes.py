#!/usr/bin/env python3
"""Process-level checks of the distributed demo (examples/distributed).

    demo_processes.py <troupe-demo> external|kill9|sigterm

external: a warehouse started with --port=N serves a shop started with
          --warehouse=127.0.0.1:N (which starts no warehouse of its own).
kill9:    SIGKILL to the shop while it streams: its warehouse child is gone
          within a bounded time.
sigterm:  SIGTERM to the shop while it streams: the shop exits with 143
          (128 + SIGTERM) and leaves no warehouse.
dashboard: a warehouse started with --troupe.http.port=N serves /metrics,
          /api/tree, /api/events and / while a shop streams from it.

Every wait is bounded; a process left running is killed at the end.
"""

import ctypes
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

DEMO = sys.argv[1]
MODE = sys.argv[2]
started = []


def fail(message):
    print("FAIL: " + message, flush=True)
    sys.exit(1)


class Proc:
    """A child process whose output (stdout + stderr) is read by a thread."""

    def __init__(self, *args):
        self.p = subprocess.Popen([DEMO, *args], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        started.append(self.p)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def expect(self, pattern, timeout):
        """Returns the match of the first line matching pattern, within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                fail("no line matching %r within %ss; output so far:\n%s"
                     % (pattern, timeout, "\n".join(self.seen)))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                fail("process ended (rc %s) before a line matching %r; output:\n%s"
                     % (self.p.poll(), pattern, "\n".join(self.seen)))
            print(line, flush=True)
            self.seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m

    def wait(self, timeout):
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            fail("process %d still running after %ss" % (self.p.pid, timeout))


def become_subreaper():
    """Orphaned grandchildren (a killed shop's warehouse) become our children,
    so gone() can reap them instead of leaving zombies behind."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def gone(pid):
    """True when pid no longer runs (absent, or a zombie nobody reaped yet)."""
    try:
        os.waitpid(pid, os.WNOHANG)  # reaps it if it is our (adopted) child
    except ChildProcessError:
        pass
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True


def wait_gone(pid, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # bounded polling of another process
        if gone(pid):
            return True
        time.sleep(0.05)
    return gone(pid)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shop_with_child():
    """Starts a shop that streams for a long time; returns it and its warehouse pid."""
    shop = Proc("--orders=1000000000")
    pid = int(shop.expect(r"warehouse process (\d+) is listening", 20).group(1))
    shop.expect(r"-- streaming", 30)
    if gone(pid):
        fail("the warehouse %d is not running while the shop streams" % pid)
    return shop, pid


def main():
    if MODE == "external":
        port = free_port()
        wh = Proc("--role=warehouse", "--orders=1000", "--port=%d" % port)
        wh.expect(r"warehouse listening on 127\.0\.0\.1:%d$" % port, 20)
        shop = Proc("--orders=1000", "--warehouse=127.0.0.1:%d" % port)
        shop.expect(r"using the warehouse at 127\.0\.0\.1:%d" % port, 20)
        shop.expect(r"received 1000 orders", 60)
        shop.expect(r"shop +: done", 30)
        rc = shop.wait(30)
        if rc != 0:
            fail("the shop exited with %d" % rc)
        if any("warehouse process" in line for line in shop.seen):
            fail("the shop started a warehouse of its own")
        if wh.p.poll() is not None:
            fail("the shop stopped the warehouse it was given")
        wh.p.send_signal(signal.SIGTERM)
        rc = wh.wait(20)
        if rc != 0:
            fail("the warehouse exited with %d after SIGTERM" % rc)
    elif MODE == "dashboard":
        port, http_port = free_port(), free_port()
        wh = Proc("--role=warehouse", "--orders=100000", "--port=%d" % port,
                  "--troupe.http.port=%d" % http_port)
        wh.expect(r"warehouse dashboard on http://127\.0\.0\.1:%d/$" % http_port, 20)
        base = "http://127.0.0.1:%d" % http_port
        shop = Proc("--orders=100000", "--warehouse=127.0.0.1:%d" % port)
        shop.expect(r"using the warehouse at", 20)

        def get(path):
            with urllib.request.urlopen(base + path, timeout=20) as r:
                return r.headers.get("Content-Type", ""), r.read().decode("utf-8")

        kind, text = get("/metrics")
        if not kind.startswith("text/plain") or \
                'troupe_supervisor_up{supervisor="warehouse"} 1' not in text:
            fail("/metrics does not show the warehouse supervisor:\n" + text[:2000])
        kind, text = get("/api/tree")
        tree = json.loads(text)
        paths = [s["path"] for s in tree["supervisors"]]
        if kind != "application/json" or "warehouse" not in paths:
            fail("/api/tree has no warehouse supervisor: %s" % paths)
        kind, text = get("/")
        if "<title>Troupe</title>" not in text:
            fail("/ is not the dashboard")
        # The event stream answers with its headers and a first chunk (a
        # keep-alive comment, or an event: "id: <n>" then "data: {...}")
        # within a few seconds.
        with urllib.request.urlopen(base + "/api/events", timeout=20) as r:
            if not r.headers.get("Content-Type", "").startswith("text/event-stream"):
                fail("/api/events is not an event stream")
            first = r.readline().decode("utf-8")
            if not (first.startswith(":") or first.startswith("id:")
                    or first.startswith("data:")):
                fail("/api/events sent %r" % first)
        shop.p.send_signal(signal.SIGTERM)
        shop.wait(30)
        wh.p.send_signal(signal.SIGTERM)
        rc = wh.wait(20)
        if rc != 0:
            fail("the warehouse exited with %d after SIGTERM" % rc)
    elif MODE == "kill9":
        shop, pid = shop_with_child()
        shop.p.kill()
        shop.wait(10)
        if not wait_gone(pid, 15):
            fail("the warehouse %d still runs 15 s after its shop was killed" % pid)
    elif MODE == "sigterm":
        shop, pid = shop_with_child()
        shop.p.send_signal(signal.SIGTERM)
        shop.expect(r"-- signal 15: stopping --", 30)
        shop.expect(r"warehouse exited with 0$", 30)  # stopped in order
        shop.expect(r"shop +: stopped by a signal", 30)
        rc = shop.wait(30)
        if rc != 128 + signal.SIGTERM:
            fail("the shop exited with %d after SIGTERM, not %d" % (rc, 128 + signal.SIGTERM))
        if not wait_gone(pid, 15):
            fail("the warehouse %d still runs after its shop stopped" % pid)
    else:
        fail("unknown mode " + MODE)
    print("PASS: " + MODE, flush=True)


become_subreaper()
try:
    main()
finally:
    for p in started:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
