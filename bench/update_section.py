#!/usr/bin/env python3
"""update_section.py BENCHMARKS.md NAME SECTION_FILE

Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in
BENCHMARKS.md with SECTION_FILE's content, leaving every other section alone.
Creates the file (with its header) or appends the markers when missing."""

import os
import sys

HEADER = """# corral benchmarks

Performance is measured side by side with the peers (plain exec,
bubblewrap, direct connections) in one run on one machine state, and
reported as ratios: absolute numbers vary from machine to machine, the
ratios much less. Each section is written by a script under `bench/`
(`bench/run.sh` runs them all; see `bench/README.md`) and names the
machine (CPUs, kernel), the date, the corral revision and the exact
commands it timed. Do not edit between the `<!-- ...:begin/end -->`
markers by hand: the scripts replace that text.

Goals (from the launch-performance issue):

- median launch of `corral run -- /bin/true` at least 2x faster than
  bubblewrap's (`bwrap --unshare-all --die-with-parent --ro-bind / /
  --dev /dev --proc /proc /bin/true`);
- 700+ launches per second with 2 and with 8 launches in parallel.
"""


def main():
    path, name, section_file = sys.argv[1:4]
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    with open(section_file) as f:
        body = f.read().strip("\n")
    block = f"{begin}\n{body}\n{end}"
    text = open(path).read() if os.path.exists(path) else HEADER
    if begin in text and end in text and text.index(begin) < text.index(end):
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
