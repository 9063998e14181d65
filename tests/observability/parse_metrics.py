#!/usr/bin/env python3
"""Fetches a Troupe node's /metrics and parses it with Prometheus's own
Python parser (python3-prometheus-client). Prints one line per sample,
"<name>\t<labels as JSON>\t<value>", and "families <n>" last; exits 1 if the
text does not parse or a family has no samples."""

import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def main() -> int:
    url = sys.argv[1]
    with urllib.request.urlopen(url, timeout=30) as response:
        content_type = response.headers.get("Content-Type", "")
        text = response.read().decode("utf-8")
    if not content_type.startswith("text/plain"):
        print(f"unexpected content type {content_type!r}")
        return 1
    families = list(text_string_to_metric_families(text))
    for family in families:
        if not family.samples:
            print(f"family {family.name} has no samples")
            return 1
        for sample in family.samples:
            labels = json.dumps(sample.labels, sort_keys=True, separators=(",", ":"))
            print(f"{sample.name}\t{labels}\t{sample.value}")
    print(f"families {len(families)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
