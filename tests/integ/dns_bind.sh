#!/bin/bash
# dns_bind.sh - the DNS scenario (tests/lib/dns_scenario.sh: publish,
# propagation and retire, checked by asking the servers) against a real
# BIND: a signing primary that takes TSIG-signed updates only and two
# secondaries (tests/lib/bind.sh's driver).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/bind.sh"
. "$here/../lib/dns_common.sh"
. "$here/../lib/dns_scenario.sh"
bind_driver
dns_scenario
