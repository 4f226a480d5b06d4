#!/usr/bin/env python3
"""Runs a program; fails if it fails, crashes, or writes a validation message."""
import subprocess
import sys

args = sys.argv[1:]
expect = None
if args and args[0].startswith("--expect-stdout="):
    expect = args.pop(0).split("=", 1)[1]
p = subprocess.run(args, capture_output=True, text=True)
sys.stdout.write(p.stdout)
sys.stderr.write(p.stderr)
bad = [l for l in p.stderr.splitlines() if "Validation Error" in l or "Validation Warning" in l or "Validation Performance Warning" in l]
if p.returncode != 0:
    print(f"FAIL: exit status {p.returncode}")
    sys.exit(1)
if bad:
    print(f"FAIL: {len(bad)} validation message(s) at exit")
    sys.exit(1)
if expect is not None and expect not in p.stdout:
    print(f"FAIL: expected {expect!r} on standard output")
    sys.exit(1)
print("PASS")
