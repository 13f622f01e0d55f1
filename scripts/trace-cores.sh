#!/bin/sh
# How many goroutines ran, phase by phase, in an execution trace of one
# analysis: where a core idled. A CPU profile says what ran, not what ran
# while the other core waited; the phases' CPU/wall (STACKSCOPE_PHASES)
# says it per phase but not within one. The Go scheduler's view is
# measured, not the kernel's: under load a "running" goroutine may wait
# for a core, so compare the columns within a run (the share of time with
# one goroutine running), not wall times between runs.
#
# Usage: STACKSCOPE_TRACE=/tmp/t.out stackscope analyze --no-cache FILE > /dev/null
#        scripts/trace-cores.sh /tmp/t.out
# Prints, per phase (internal/analysis/phases.go marks their ends in the
# trace): its time in the trace, the time with 0, 1 and 2 or more
# goroutines running, and the time the analysis' goroutine (1) ran.
set -eu
[ $# -eq 1 ] || { echo "usage: $0 TRACE" >&2; exit 2; }
go tool trace -d=parsed "$1" | python3 -c '
import re, sys
running, phases, acc, g1, last = set(), [], [0, 0, 0], [0], None
event = re.compile(r"^M=\S+ P=\S+ G=\S+ (\w+) Time=(\d+)(.*)")
move = re.compile(r"GoID=(\d+) (\w+)->(\w+)")
def until(t):
    global last
    if last is not None:
        acc[min(len(running), 2)] += t - last
        if "1" in running:
            g1[0] += t - last
    last = t
for line in sys.stdin:
    m = event.match(line)
    if not m:
        continue
    kind, t, rest = m.group(1), int(m.group(2)), m.group(3)
    if kind == "StateTransition" and "GoID=" in rest:
        gid, was, now = move.search(rest).groups()
        until(t)
        if now == "Running":
            running.add(gid)
        elif was == "Running":
            running.discard(gid)
    elif kind == "Log" and "Category=\"phase\"" in rest:
        until(t)
        phases.append((re.search(r"Message=\"([^\"]*)\"", rest).group(1), acc[:], g1[0]))
        acc[:], g1[0] = [0, 0, 0], 0
phases.append(("(after)", acc[:], g1[0]))
print("%-14s %8s %8s %8s %8s %8s" % ("phase", "time s", "0 run", "1 runs", "2+ run", "G1 runs"))
for name, a, g in phases:
    print("%-14s %8.3f %8.3f %8.3f %8.3f %8.3f" % (name, sum(a) / 1e9, a[0] / 1e9, a[1] / 1e9, a[2] / 1e9, g / 1e9))
'
