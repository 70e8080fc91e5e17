#!/bin/bash
# tests/integ/operator_sweep.sh - make check's short operator sweep (issue
# 11): steps an operator takes by hand in the middle of a rollover, with
# pftls-rolld running and the observer's validating resolvers watching:
# always issue 11's two reproduced cells (deploy-server-cert of the next
# key + reload, then cancel, at propagated; deploy-server-cert of the old
# key + reload at verified with retire_delay 25s, then the automatic
# retire), and two more cells rotating by day (tests/operator-sweep's
# header says how).  Each must show zero DANE failures, no record of a
# deployed key withdrawn, and a line telling the operator what happened.
# A FAIL names its cell; "tests/operator-sweep --only PHASE ACTION" or
# "--short --seed N" reproduces it.  The full sweep is "make
# operator-sweep".  Budget: four cells plus the set-up, about 2 minutes.
cd "$(dirname "$0")/../.." || exit 1
exec bash tests/operator-sweep --short "$@"
