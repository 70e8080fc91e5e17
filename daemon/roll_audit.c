/*
 * roll_audit.c - what is in service, watched between rollovers: the
 * DNSSEC verdicts of a propagation round as check prints them, and the
 * daemon's periodic audit (every audit_interval) with its findings, each
 * logged once when it opens, reminded at most hourly, and logged again when
 * it closes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dnssec.h"
#include "roll_int.h"

static const char *fmt_utc(uint64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t || !gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm))
		snprintf(buf, len, "unknown");
	return buf;
}

void roll_report_dnssec(pf_roll *r, const dns_prop_round *rd, const dns_prop_server *sv,
			const char *chain_err)
{
	for (size_t k = 0; k < rd->n_owners; k++) {
		const dns_prop_rrset *rs = &sv->rrsets[k];
		char when[40];

		if (!rs->n_rr)
			continue;
		if (chain_err && rs->dnssec == DNS_PROP_UNVALIDATED) {
			roll_progress(r, "%s: %s TLSA %s: %s", sv->target.addr.label, rd->owners[k],
				      rd->zone_signed ? "bogus" : "insecure", chain_err);
			continue;
		}
		switch (rs->dnssec) {
		case DNS_PROP_VALIDATES:
			roll_progress(r, "%s: %s TLSA validates (signatures valid until %s)",
				      sv->target.addr.label, rd->owners[k],
				      fmt_utc(rs->sig_expiry, when, sizeof(when)));
			break;
		case DNS_PROP_BOGUS:
			roll_progress(r, "%s: %s TLSA bogus: %s", sv->target.addr.label,
				      rd->owners[k], rs->dnssec_msg);
			break;
		case DNS_PROP_INSECURE:
			roll_progress(r, "WARNING: %s: %s TLSA insecure: %s", sv->target.addr.label,
				      rd->owners[k], rs->dnssec_msg);
			break;
		default:
			roll_progress(r, "WARNING: %s: %s TLSA not validated",
				      sv->target.addr.label, rd->owners[k]);
		}
	}
}

bool roll_dnssec_secure(const dns_prop_round *rd, const dns_prop_server *sv)
{
	for (size_t k = 0; k < rd->n_owners; k++)
		if (sv->rrsets[k].n_rr && (sv->rrsets[k].dnssec == DNS_PROP_BOGUS ||
					   sv->rrsets[k].dnssec == DNS_PROP_INSECURE))
			return false;
	return true;
}
