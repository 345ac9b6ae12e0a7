#!/bin/sh
# SPDX-License-Identifier: MIT
# Every file README's commands write into the tree is ignored by git: the
# targets of "> FILE", "-o FILE", "--out FILE" and "--png FILE" in README.md's
# shell lines, and the directories ./run, ./test and tools/fuzz.sh make
# (var/, build*/, the browser test's tests/browser/node_modules/).  A user who follows README never sees them in git status.
# usage: check_gitignore.sh ROOT
root=${1:-.}
cd "$root" || exit 1
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "check_gitignore: $root is not a git work tree" >&2
    exit 1
fi
files=$(sed -n 's/.*\(> \|-o \|--out \|--png \)\([A-Za-z0-9._/-]*\.[A-Za-z0-9]*\).*/\2/p' README.md | sort -u)
n=0
status=0
for f in $files var/manifold.db var/models/x.safetensors build/x build-asan/x build-fuzz/x \
        tests/browser/node_modules/x; do
    n=$((n + 1))
    if ! git check-ignore -q --no-index "$f"; then
        echo "not ignored: $f (README or a script writes it)" >&2
        status=1
    fi
done
# the check must see README's outputs, or it checks nothing
if [ "$(echo "$files" | wc -w)" -lt 4 ]; then
    echo "check_gitignore: found only '$files' in README.md" >&2
    status=1
fi
[ $status -eq 0 ] && echo "check_gitignore: $n paths ignored ($(echo $files))"
exit $status
