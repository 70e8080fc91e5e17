#!/bin/bash
# dns_knot.sh - the DNS scenario (tests/lib/dns_scenario.sh: publish,
# propagation and retire, checked by asking the servers) against a second
# DNS implementation: a Knot DNS primary that signs the zone automatically
# and takes TSIG-signed updates only through its ACLs, notifying a BIND
# secondary (tests/lib/knot.sh's driver).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/bind.sh"
. "$here/../lib/knot.sh"
. "$here/../lib/dns_common.sh"
. "$here/../lib/dns_scenario.sh"
knot_driver
dns_scenario
