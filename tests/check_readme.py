#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""README's status table tells the truth (issue 15): every figure "N.NN×" in it is a
figure of bench/RESULTS.md, every test and doc it names exists, and every page of docs/
is linked from README.

  check_readme.py SOURCE_ROOT
"""
import os
import re
import sys

ROOT = sys.argv[1]
readme = open(os.path.join(ROOT, "README.md")).read()
results = open(os.path.join(ROOT, "bench", "RESULTS.md")).read()
status = readme[readme.index("## Status"):readme.index("## Documentation")]
failures = []

# ratios: "1.75×" in README is "1.75" in RESULTS.md (as a ratio cell or "2.01x")
for ratio in re.findall(r"(\d+\.\d+)×", status):
    if not re.search(r"(^|[ |(>=])%s(x|\s*\||\s)" % re.escape(ratio), results, re.M):
        failures.append("README says %s×; bench/RESULTS.md has no such figure" % ratio)
for ms in re.findall(r"(\d+\.\d+) ms", status):
    if ms not in results:
        failures.append("README says %s ms; bench/RESULTS.md has no such figure" % ms)

# every path in backquotes under tests/ (a later name without a folder is in the same one)
folder = None
for name in re.findall(r"`([^`]+\.(?:c|py|sh)|tests/[^`]*)`", status):
    if "/" in name:
        folder = os.path.dirname(name.rstrip("/"))
        path = name
    else:
        path = os.path.join(folder or "", name)
    if not os.path.exists(os.path.join(ROOT, path)):
        failures.append("README names %s, which does not exist" % path)

for page in sorted(os.listdir(os.path.join(ROOT, "docs"))):
    if page.endswith(".md") and "docs/%s" % page not in readme:
        failures.append("docs/%s is not linked from README" % page)
for link in re.findall(r"\]\((docs/[^)#]+)", readme):
    if not os.path.exists(os.path.join(ROOT, link)):
        failures.append("README links %s, which does not exist" % link)

for f in failures:
    print("FAIL", f)
print("README status: %d problems" % len(failures))
sys.exit(1 if failures else 0)
