#!/usr/bin/env python3
"""No function in runtime/ longer than about 80 lines (issue 10).

Runs clang-tidy's readability-function-size check (line threshold 80: the
signature to the closing brace, comments and blank lines included) over every
runtime source in the build's compile_commands.json, and fails on any
function over it. A function that is long for a reason (a table, one switch
over an enum) carries, on the line before it,
    // NOLINTNEXTLINE(readability-function-size): <why>
and the reason is checked to be there.

usage: check_function_size.py BUILD_DIR SOURCE_ROOT
Exit 77 (meson: skipped) when clang-tidy is not installed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

THRESHOLD = 80
CHECK = "readability-function-size"


def runtime_sources(build_dir, root):
    with open(os.path.join(build_dir, "compile_commands.json")) as f:
        entries = json.load(f)
    runtime = os.path.join(root, "runtime") + os.sep
    files = set()
    for e in entries:
        path = os.path.normpath(os.path.join(e["directory"], e["file"]))
        if path.startswith(runtime) and path.endswith(".cpp"):
            files.add(path)
    files = [p for p in files if os.path.exists(p)]  # compile_commands.json may predate a rename
    return sorted(files)


def tidy(tool, build_dir, path):
    config = "{CheckOptions: [{key: %s.LineThreshold, value: %d}]}" % (CHECK, THRESHOLD)
    out = subprocess.run([tool, "-p", build_dir, "--quiet", "-checks=-*," + CHECK, "-config=" + config,
                          "-header-filter=/runtime/", path],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return out.returncode, out.stdout


def unexplained_exemptions(path):
    bad = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            m = re.search(r"NOLINT(NEXTLINE)?\(" + CHECK + r"\)(.*)", line)
            if m and len(m.group(2).strip(" :")) < 10:
                bad.append("%s:%d: an exemption from %s needs a reason after it" % (path, n, CHECK))
    return bad


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    build_dir, root = sys.argv[1], os.path.realpath(sys.argv[2])
    tool = shutil.which("clang-tidy")
    if tool is None:
        print("SKIP: clang-tidy not installed (scripts/install-deps.sh installs it)")
        return 77
    files = runtime_sources(build_dir, root)
    if not files:
        print("FAIL: no runtime sources in %s/compile_commands.json" % build_dir)
        return 1
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        outputs = list(pool.map(lambda p: tidy(tool, build_dir, p), files))
    failures = []
    seen = set()
    for path, (rc, text) in zip(files, outputs):
        if rc != 0 or " error: " in text:
            failures.append("%s: clang-tidy could not check it:\n%s" % (path, text))
            continue
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if "warning: function" in line and CHECK in line:
                size = next((m.group(1) for m in (re.search(r"note: (\d+) lines", l) for l in lines[i + 1:i + 6])
                             if m), "?")
                where = line.split(" exceeds")[0]
                if where not in seen:  # a header's function is reported by every file including it
                    seen.add(where)
                    failures.append("%s (%s lines)" % (where, size))
    for dirpath, _, names in os.walk(os.path.join(root, "runtime")):
        for name in sorted(names):
            if name.endswith((".cpp", ".h")):
                failures += unexplained_exemptions(os.path.join(dirpath, name))
    print("checked %d runtime sources, threshold %d lines" % (len(files), THRESHOLD))
    for f in failures:
        print(f)
    if failures:
        print("FAIL: %d function(s) over %d lines: split them into named steps, or say why above them" %
              (len(failures), THRESHOLD))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
