#!/usr/bin/env python3
"""Checks the code layout of libivy.so against link/symbol-order.txt.

    check_symbol_order.py LIBIVY_SO SYMBOL_ORDER_FILE

Fails when
- fewer than 80 % of the functions that the file's header says libivy.so held
  when the file was generated are still there: the code has changed enough that
  scripts/gen-symbol-order must run again;
- the listed functions are not gathered at the start of .text (the linker did not
  apply the order), allowing 64 KiB for alignment and the C run-time's code.
"""
import re
import subprocess
import sys

KEEP = 0.8
SLACK = 64 * 1024


def listed(order_file):
    names, expected = [], None
    with open(order_file, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            m = re.match(r"# libivy\.so defines (\d+) of these names", line)
            if m:
                expected = int(m.group(1))
            elif line and not line.startswith("#"):
                names.append(line)
    return names, expected


def functions(so):
    """name -> (address, size) of the functions nm lists with a size."""
    out = subprocess.run(["nm", "-S", "--defined-only", so], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[2] in "tTwW":
            found[parts[3]] = (int(parts[0], 16), int(parts[1], 16))
    return found


def text_start(so):
    out = subprocess.run(["readelf", "-S", "-W", so], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.replace("[ ", "[").split()
        if len(parts) > 3 and parts[1] == ".text":
            return int(parts[3], 16)
    sys.exit("FAIL: no .text section")


def main():
    so, order_file = sys.argv[1], sys.argv[2]
    names, expected = listed(order_file)
    if expected is None:
        sys.exit("FAIL: the order file does not say how many of its names libivy.so defines")
    found = functions(so)
    present = [found[n] for n in names if n in found]
    print(f"libivy.so defines {len(present)} of the {len(names)} names (it defined {expected} at generation)")
    if len(present) < KEEP * expected:
        sys.exit("FAIL: link/symbol-order.txt is stale: run scripts/gen-symbol-order")
    start = text_start(so)
    end = max(a + s for a, s in present)
    total = sum(s for _, s in present)
    print(f"they span {end - start} bytes from the start of .text, for {total} bytes of code")
    if end - start > total + SLACK:
        sys.exit("FAIL: the listed functions are not gathered at the start of .text")
    print("ok")


if __name__ == "__main__":
    main()
