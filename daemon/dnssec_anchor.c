/*
 * dnssec_anchor.c - the trust anchors of DNSSEC validation, read from
 * dnssec_trust_anchor_file: DS or DNSKEY records in zone-file syntax (as
 * /usr/share/dns/root.key holds), for the root or any other zone.  Owns the
 * parsing and its bounds; every anchor is kept as a DS record.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dnssec.h"

/* The 1-based line of text holding byte off. */
static int line_of(const char *text, size_t off)
{
	int line = 1;

	for (size_t i = 0; i < off; i++)
		line += text[i] == '\n';
	return line;
}

/* Refuse NUL bytes and over-long lines before ldns sees the text.  Returns 0
 * or -EINVAL. */
static int check_lines(const char *name, const char *text, size_t len, pf_err *e)
{
	size_t start = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] == '\0')
			return pf_err_usage(e, "%s:%d: NUL byte in a trust-anchor file", name,
					    line_of(text, i));
		if (i == len || text[i] == '\n') {
			if (i - start > DNSSEC_ANCHOR_LINE_MAX)
				return pf_err_usage(e, "%s:%d: line longer than %d bytes", name,
						    line_of(text, start), DNSSEC_ANCHOR_LINE_MAX);
			start = i + 1;
		}
	}
	return 0;
}

/* Whether rr is usable as an anchor; else *why says why. */
static bool anchor_ok(const ldns_rr *rr, const char **why)
{
	ldns_rr_type t = ldns_rr_get_type(rr);

	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
		*why = "a trust anchor must be of class IN";
		return false;
	}
	if (t == LDNS_RR_TYPE_DS) {
		if (ldns_rr_rd_count(rr) != 4) {
			*why = "malformed DS record";
			return false;
		}
		return true;
	}
	if (t != LDNS_RR_TYPE_DNSKEY) {
		*why = "a trust anchor is a DS or DNSKEY record";
		return false;
	}
	if (ldns_rr_rd_count(rr) != 4 ||
	    !(ldns_rdf2native_int16(ldns_rr_rdf(rr, 0)) & LDNS_KEY_ZONE_KEY) ||
	    ldns_rdf2native_int8(ldns_rr_rdf(rr, 1)) != 3) {
		*why = "a DNSKEY trust anchor must be a zone key of protocol 3";
		return false;
	}
	return true;
}

int dnssec_anchors_parse(const char *name, const char *text, size_t len, dnssec_anchors **ret,
			 pf_err *e)
{
	ldns_rr_list *ds = NULL;
	ldns_rdf *origin = NULL, *prev = NULL;
	uint32_t ttl = 3600;
	int line = 1, r = 0;
	FILE *fp;

	if (len > DNSSEC_ANCHOR_FILE_MAX)
		return pf_err_usage(e, "%s: trust-anchor file larger than %d bytes", name,
				    DNSSEC_ANCHOR_FILE_MAX);
	if ((r = check_lines(name, text, len, e)) < 0)
		return r;
	if (len == 0)
		return pf_err_usage(e, "%s:1: no trust anchor in the file", name);
	/* fmemopen does not write to a buffer opened "r". */
	if (!(fp = fmemopen((void *)text, len, "r")))
		return pf_err_set(e, errno, "%s: %s", name, strerror(errno));
	origin = ldns_dname_new_frm_str(".");
	ds = ldns_rr_list_new();
	while (!feof(fp)) {
		ldns_rr *rr = NULL;
		int at = line;
		ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin, &prev, &line);
		const char *why = NULL;

		if (s == LDNS_STATUS_SYNTAX_EMPTY || s == LDNS_STATUS_SYNTAX_TTL ||
		    s == LDNS_STATUS_SYNTAX_ORIGIN)
			continue;
		if (s != LDNS_STATUS_OK) {
			/* ldns counts the line it stopped on; at end of file that
			 * is one past the last. */
			r = pf_err_usage(e, "%s:%d: %s", name, line > at ? line - 1 : at,
					 ldns_get_errorstr_by_id(s));
			break;
		}
		if (!anchor_ok(rr, &why)) {
			ldns_rr_free(rr);
			r = pf_err_usage(e, "%s:%d: %s", name, line > at ? line - 1 : at, why);
			break;
		}
		if (ldns_rr_list_rr_count(ds) >= DNSSEC_ANCHORS_MAX) {
			ldns_rr_free(rr);
			r = pf_err_usage(e, "%s:%d: more than %d trust anchors", name,
					 line > at ? line - 1 : at, DNSSEC_ANCHORS_MAX);
			break;
		}
		ldns_dname2canonical(ldns_rr_owner(rr));
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY) {
			ldns_rr *d = ldns_key_rr2ds(rr, LDNS_SHA256);

			ldns_rr_free(rr);
			if (!d) {
				r = pf_err_usage(e, "%s:%d: DNSKEY anchor has no DS form", name,
						 line > at ? line - 1 : at);
				break;
			}
			rr = d;
		}
		ldns_rr_list_push_rr(ds, rr);
	}
	fclose(fp);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	if (r == 0 && ldns_rr_list_rr_count(ds) == 0)
		r = pf_err_usage(e, "%s:%d: no trust anchor in the file", name,
				 line > 1 ? line - 1 : 1);
	if (r < 0) {
		ldns_rr_list_deep_free(ds);
		return r;
	}
	*ret = pf_calloc(1, sizeof(**ret));
	(*ret)->ds = ds;
	return 0;
}

int dnssec_anchors_load(const char *path, dnssec_anchors **ret, pf_err *e)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if ((r = pf_read_file(path, DNSSEC_ANCHOR_FILE_MAX, &text, &len, e)) < 0)
		return r;
	r = dnssec_anchors_parse(path, text, len, ret, e);
	free(text);
	return r;
}

dnssec_anchors *dnssec_anchors_free(dnssec_anchors *a)
{
	if (a) {
		ldns_rr_list_deep_free(a->ds);
		free(a);
	}
	return NULL;
}

size_t dnssec_anchors_count_for(const dnssec_anchors *a, const ldns_rdf *zone)
{
	size_t n = 0;

	if (!a)
		return 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(a->ds); i++)
		n += ldns_dname_compare(ldns_rr_owner(ldns_rr_list_rr(a->ds, i)), zone) == 0;
	return n;
}
