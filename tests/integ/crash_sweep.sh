#!/bin/bash
# tests/integ/crash_sweep.sh - make check's short crash sweep: pftls-rolld
# SIGKILLed inside each durable-write step (write, fsync, rename, dirsync;
# one passage each) and at one phase boundary, restarted each time, while
# the observer's probes run: every rollover completes, zero probe failures,
# no torn state or key file.  The points rotate by day (tests/crash-sweep's
# header says how), so every point is covered over time; a FAIL names its
# point, and "tests/crash-sweep --only POINT K" or "--short --seed N"
# (printed below) reproduces it.  The full sweep is "make crash-sweep".
# Budget: five rollovers plus the set-up; measured 5.5 minutes on the shared
# 2-core machine at load average 12-20 (over the 3 minutes asked for).
cd "$(dirname "$0")/../.." || exit 1
exec bash tests/crash-sweep --short "$@"
