#!/bin/bash
# tests/integ/crash_sweep.sh - make check's short crash sweep: pftls-rolld
# SIGKILLed inside one durable-write step (write, fsync, rename or
# dirsync, at one passage) of an on-demand rollover, inside one of a
# prepublish cycle (rollover_scheme = prepublish: the request, deploy,
# retire, and the next key's staging), and at one phase boundary of
# either scheme, restarted each time, while the observer's probes run:
# every rollover completes (prepublish: ends staged, current + next
# served), zero probe failures, no torn state or key file, no early
# deploy.  The points rotate by day (tests/crash-sweep's header says
# how), so every point is covered over time; a FAIL names its point, and
# "tests/crash-sweep --only POINT K [--scheme prepublish]" or "--short
# --seed N" (printed below) reproduces it.  The full sweep is "make
# crash-sweep".  Budget: three rollovers, one staging and the set-up,
# about 70-110 s on a 2-core machine.
cd "$(dirname "$0")/../.." || exit 1
exec bash tests/crash-sweep --short "$@"
