#!/usr/bin/python3
"""bench/crawler: Troupe's distributed crawler next to a reference crawler
written with Python's asyncio (aiohttp, html.parser), against the same
generated site (troupe-crawl-site on 127.0.0.1) with identical parameters:
the same total `max_in_flight` and per-host limit (Troupe's are per fetcher
process, so the reference gets fetchers times each), the same per-attempt
timeout, attempts and backoff (exponential from 10 ms to 200 ms, full
jitter), bodies asked for uncompressed by both.

What is timed: the crawl, from the first URL handed out to the last page
done (Troupe's `crawl_seconds`, measured by its frontier; the reference's
own crawl), not the start of the processes. Both must crawl or fail every
page, or the run stops. Next to each rate, the CPU seconds it cost, the
site server's included (Troupe runs in four processes on the 2 cores, the
reference in one). Rounds alternate the order; the last line is

  crawler troupe_pages_per_s=<median> asyncio_pages_per_s=<median> crawler_ratio=<median of the rounds' ratios>

Prints numbers, asserts nothing.

  crawler_bench.py --build build/default [--rounds 5 --pages 3000]
"""

import argparse
import asyncio
import html.parser
import random
import re
import resource
import statistics
import subprocess
import sys
import time
import urllib.parse

import aiohttp


# -- the asyncio reference crawler ---------------------------------------------


class LinkParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            for name, value in attrs:
                if name == "href" and value:
                    self.hrefs.append(value)


def origin(url):
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def links_of(body, base):
    parser = LinkParser()
    parser.feed(body)
    out = []
    for href in parser.hrefs:
        url, _ = urllib.parse.urldefrag(urllib.parse.urljoin(base, href))
        if url.startswith(("http://", "https://")):
            out.append(url)
    return out


async def crawl(seed, origins, max_in_flight, per_host, attempt_timeout, attempts):
    """Returns (crawled, failed, seconds)."""
    seen = {seed}
    queue = asyncio.Queue()
    queue.put_nowait(seed)
    counts = {"crawled": 0, "failed": 0}
    connector = aiohttp.TCPConnector(limit=max_in_flight, limit_per_host=per_host)
    # Per attempt, like Troupe's: connecting and each wait for data, not
    # the wait for a free connection in the pool (`total` would count that,
    # and fail requests that never started).
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=attempt_timeout,
                                    sock_read=attempt_timeout)

    async def fetch(session, url):
        last = None
        for attempt in range(attempts):
            if attempt > 0:
                await asyncio.sleep(random.uniform(0, min(0.2, 0.01 * 2 ** (attempt - 1))))
            try:
                async with session.get(url, timeout=timeout) as resp:
                    if resp.status >= 400:
                        last = f"http_status {resp.status}"
                        continue
                    return await resp.text()
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                last = repr(e)
        raise RuntimeError(last)

    async def worker(session):
        while True:
            url = await queue.get()
            try:
                body = await fetch(session, url)
                counts["crawled"] += 1
                for link in links_of(body, url):
                    if link not in seen and origin(link) in origins:
                        seen.add(link)
                        queue.put_nowait(link)
            except RuntimeError:
                counts["failed"] += 1
            finally:
                queue.task_done()

    started = time.monotonic()
    # Bodies as they are, as Troupe's fetchers ask for them on loopback.
    headers = {"Accept-Encoding": "identity"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        workers = [asyncio.create_task(worker(session)) for _ in range(max_in_flight)]
        await queue.join()
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return counts["crawled"], counts["failed"], time.monotonic() - started


def cpu_seconds(who):
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def run_asyncio(site_bin, args):
    cpu_before = cpu_seconds(resource.RUSAGE_SELF) + cpu_seconds(resource.RUSAGE_CHILDREN)
    site = subprocess.Popen(
        [site_bin, f"--pages={args.pages}", f"--hosts={args.hosts}", "--lifetime-s=600"],
        stdout=subprocess.PIPE, text=True)
    try:
        ports = site.stdout.readline().split()[1:]
        origins = {f"http://127.0.0.1:{p}" for p in ports}
        seed = f"http://127.0.0.1:{ports[0]}/p/0"
        crawled, failed, seconds = asyncio.run(crawl(
            seed, origins, args.fetchers * args.max_in_flight, args.fetchers * args.per_host,
            args.attempt_timeout_ms / 1000, args.attempts))
    finally:
        site.terminate()
        site.communicate(timeout=30)
    cpu = cpu_seconds(resource.RUSAGE_SELF) + cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_before
    if crawled + failed != args.pages:
        raise SystemExit(f"asyncio: crawled {crawled} + failed {failed} != {args.pages}")
    return args.pages / seconds, seconds, cpu, failed


# -- Troupe --------------------------------------------------------------------


def run_troupe(crawler_bin, args):
    cpu_before = cpu_seconds(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [crawler_bin, f"--pages={args.pages}", f"--hosts={args.hosts}",
         f"--fetchers={args.fetchers}", f"--max-in-flight={args.max_in_flight}",
         f"--per-host={args.per_host}", f"--attempt-timeout-ms={args.attempt_timeout_ms}",
         f"--attempts={args.attempts}", "--kill-at=0", "--lifetime-s=600"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=900,
        env={"SPDLOG_LEVEL": "warn", "PATH": "/usr/bin:/bin"})
    cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_before
    lines = out.stdout.strip().splitlines()
    m = re.search(r"pages=(\d+) crawled=(\d+) failed_typed=(\d+) ", lines[-1])
    t = re.search(r"crawl_seconds=([0-9.]+)", out.stdout)
    if out.returncode != 0 or not m or not t:
        raise SystemExit(f"troupe-crawler failed ({out.returncode}): {lines[-1]}")
    seconds = float(t.group(1))
    return int(m.group(1)) / seconds, seconds, cpu, int(m.group(3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/default")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pages", type=int, default=3000)
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--fetchers", type=int, default=3)
    ap.add_argument("--max-in-flight", type=int, default=32)
    ap.add_argument("--per-host", type=int, default=8)
    ap.add_argument("--attempt-timeout-ms", type=int, default=300)
    ap.add_argument("--attempts", type=int, default=3)
    args = ap.parse_args()
    crawler_bin = f"{args.build}/examples/crawler/troupe-crawler"
    site_bin = f"{args.build}/examples/crawler/troupe-crawl-site"
    troupe, reference, ratios = [], [], []
    for r in range(args.rounds):
        order = [("troupe", run_troupe, crawler_bin), ("asyncio", run_asyncio, site_bin)]
        if r % 2 == 1:
            order.reverse()
        got = {}
        for name, run, binary in order:
            got[name] = run(binary, args)
        troupe.append(got["troupe"][0])
        reference.append(got["asyncio"][0])
        ratios.append(got["troupe"][0] / got["asyncio"][0])
        t, a = got["troupe"], got["asyncio"]
        print(f"round {r + 1}: troupe {t[0]:.0f} pages/s ({t[1]:.2f} s, {t[2]:.1f} CPU s, "
              f"{t[3]} failed), asyncio {a[0]:.0f} pages/s ({a[1]:.2f} s, {a[2]:.1f} CPU s, "
              f"{a[3]} failed), ratio {ratios[-1]:.2f}", flush=True)
    print(f"crawler troupe_pages_per_s={statistics.median(troupe):.0f} "
          f"asyncio_pages_per_s={statistics.median(reference):.0f} "
          f"crawler_ratio={statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
