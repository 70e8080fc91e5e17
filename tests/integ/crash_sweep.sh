#!/bin/bash
# tests/integ/crash_sweep.sh - make check's short crash sweep: pftls-rolld
# SIGKILLed inside two durable-write steps (two of write, fsync, rename,
# dirsync; one passage each) and at one phase boundary, restarted each time, while
# the observer's probes run: every rollover completes, zero probe failures,
# no torn state or key file.  The points rotate by day (tests/crash-sweep's
# header says how), so every point is covered over time; a FAIL names its
# point, and "tests/crash-sweep --only POINT K" or "--short --seed N"
# (printed below) reproduces it.  The full sweep is "make crash-sweep".
# Budget: three rollovers plus the set-up, about 70 s on a quiet 2-core
# machine (five took 110-144 s).
cd "$(dirname "$0")/../.." || exit 1
exec bash tests/crash-sweep --short "$@"
