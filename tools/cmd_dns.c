/*
 * cmd_dns.c - "publish [-n] [keyfile...]", "propagation [--wait]
 * [keyfile...]" and "retire [keyfile...]" (SPEC.md 2.2): the TLSA records of
 * key files, added by RFC 2136 update, looked for on every check server, and
 * withdrawn.  The records of a key are every tlsa_hostnames x tlsa_ports x
 * tlsa_records combination, built by tlsa_records.c as the engine builds
 * them.  The DNS work is the daemon library's (dns_update, dns_propagation);
 * this file turns arguments into records and results into tables.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../daemon/postfix.h"
#include "../daemon/rollover.h"
#include "cli.h"
#include "../daemon/dns_discover.h"
#include "../daemon/dns_propagation.h"
#include "../daemon/dnssec_walk.h"
#include "../daemon/dns_tsig.h"
#include "../daemon/dns_update.h"
#include "../daemon/keystore.h"
#include "../daemon/net.h"
#include "../daemon/timing.h"
#include "../daemon/tlsa.h"
#include "../daemon/tlsa_records.h"
#include "../daemon/withdraw_guard.h"
#include "../daemon/macro.h"

/* The records of the key files named, grouped by zone. */
typedef struct records {
	dns_change *ch;
	size_t n;
	size_t *key_of;  /* per record: index into keys */
	size_t *zone_of; /* per record: index into zones */
	char **keys;
	size_t n_keys;
	dns_zone_info *zones;
	size_t n_zones;
} records;

static void records_free(records *rs)
{
	free(rs->ch);
	free(rs->key_of);
	free(rs->zone_of);
	dns_zones_free(rs->zones, rs->n_zones);
	memset(rs, 0, sizeof(*rs));
}

/* Build the records of the key files (tlsa_records.h, as the engine does)
 * and discover their zones, through net (net.h). */
static int collect(pf_net *net, const pf_config *cfg, char **keys, size_t n_keys, records *rs,
		   pf_err *e)
{
	tlsa_record_set set = {0};
	pf_strv hosts = {0};
	size_t *owner_zone = NULL;
	int r;

	memset(rs, 0, sizeof(*rs));
	rs->keys = keys;
	rs->n_keys = n_keys;
	if ((r = tlsa_records_hosts(cfg, NULL, &hosts, e)) < 0)
		goto out;
	for (size_t k = 0; k < n_keys && r == 0; k++)
		r = tlsa_records_add_key(&set, cfg, &hosts, keys[k], NULL, k, e);
	if (r < 0)
		goto out;
	tlsa_records_index(&set);
	rs->ch = pf_calloc(set.n + 1, sizeof(*rs->ch));
	rs->key_of = pf_calloc(set.n + 1, sizeof(*rs->key_of));
	for (size_t i = 0; i < set.n; i++) {
		memcpy(rs->ch[i].owner, set.v[i].owner, sizeof(rs->ch[i].owner));
		rs->ch[i].rd = set.v[i].rd;
		rs->key_of[i] = set.v[i].key;
	}
	rs->n = set.n;
	owner_zone = pf_calloc(set.owners.n + 1, sizeof(*owner_zone));
	r = net_discover(net, cfg, set.owners.owners, set.owners.n, &rs->zones, &rs->n_zones,
			 owner_zone, e);
	if (r == 0) {
		rs->zone_of = pf_calloc(rs->n + 1, sizeof(*rs->zone_of));
		for (size_t i = 0; i < rs->n; i++)
			rs->zone_of[i] = owner_zone[set.owners.of[i]];
	}
out:
	free(owner_zone);
	tlsa_records_free(&set);
	pf_strv_clear(&hosts);
	if (r < 0)
		records_free(rs);
	return r;
}

static const char *target_label(const dns_target *t, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", t->name[0] ? t->name : t->addr.label,
		 t->update_server ? " (update)" : "");
	return buf;
}

static void print_zone_head(const dns_zone_info *z, const dns_tsig_key *k)
{
	printf("zone %s  update server %s %s  ", z->zone, z->update.name[0] ? z->update.name : "",
	       z->update.addr.label);
	if (k)
		printf("TSIG key %s (%s)\n", k->name, k->alg_name);
	else
		printf("no TSIG key (dns_tsig_key_file is not set)\n");
}

static const char *change_word(const dns_change *c)
{
	switch (c->result) {
	case DNS_CH_DONE:
		return c->op == DNS_OP_ADD ? "added" : "deleted";
	case DNS_CH_ALREADY:
		return c->op == DNS_OP_ADD ? "already present" : "already absent";
	case DNS_CH_FAILED:
		return "NOT CHANGED";
	default:
		return "-";
	}
}

static void warn_unsigned(const char *zone)
{
	fprintf(stderr,
		"pftls-roll: WARNING: zone %s is not DNSSEC-signed: DANE TLSA records in an "
		"unsigned zone protect nothing (RFC 7672 2.2); sign the zone\n",
		zone);
}

/*
 * The key files a command works on: those named, or (none named) the
 * pending rollover's next keys.  *ret_keys points into argv or into owned.
 * Returns 0 or an exit code after printing why.
 */
static int key_files(pf_cli *cli, int argc, char **argv, pf_strv *owned, char ***ret_keys,
		     size_t *ret_n)
{
	pf_roll *roll = NULL;
	pf_err e = {0};
	int r;

	if (optind < argc) {
		*ret_keys = argv + optind;
		*ret_n = (size_t)(argc - optind);
		return 0;
	}
	if ((r = roll_open(&cli->cfg, &roll, &e)) < 0 ||
	    (r = roll_key_files(roll, true, owned, &e)) < 0) {
		roll_free(roll);
		return cli_fail(&e);
	}
	roll_free(roll);
	*ret_keys = owned->v;
	*ret_n = owned->n;
	return 0;
}

/* What to do when "retire keyfile..." names a key in use. */
static void retire_hint(const pf_guard_record *hit, void *arg, char *buf, size_t len)
{
	(void)hit;
	(void)arg;
	snprintf(buf, len,
		 "deploy another key first (\"pftls-roll deploy-server-cert CERT KEY\", "
		 "\"postfix reload\"), then retire this one");
}

/*
 * SPEC.md 5 rule 2 for "retire keyfile...": the records of rs go only when
 * none of their keys is in use - named by main.cf now (smtpd, tlsproxy,
 * chain files) or presented by a verify endpoint - as the engine's own
 * withdrawals are checked (withdraw_guard.h).  Returns 0, -EPERM (exit 3)
 * with e saying which key and where, or -errno.
 */
static int guard(pf_net *net, const pf_config *cfg, const records *rs, pf_err *e)
{
	pf_pubkey *pk = pf_calloc(rs->n_keys + 1, sizeof(*pk));
	pf_guard_record *gr = pf_calloc(rs->n + 1, sizeof(*gr));
	pf_hostport_list eps = {0};
	pf_strv hosts = {0};
	pf_postfix pf = {0};
	bool pf_open = false;
	int r = 0;

	for (size_t k = 0; r == 0 && k < rs->n_keys; k++)
		r = keystore_load_pubkey(rs->keys[k], &pk[k], e);
	for (size_t i = 0; r == 0 && i < rs->n; i++) {
		const pf_pubkey *p = &pk[rs->key_of[i]];

		gr[i].key_file = rs->keys[rs->key_of[i]];
		gr[i].key_spki = p->spki_sha256;
		gr[i].alg = (int)p->alg;
		gr[i].rd = rs->ch[i].rd;
	}
	if (r == 0 && !cfg->verify_endpoints.n)
		r = tlsa_records_hosts(cfg, NULL, &hosts, e);
	if (r == 0) {
		withdraw_guard_endpoint_list(cfg, &hosts, &eps);
		r = postfix_open(&pf, cfg->postfix_command_directory, cfg->postfix_config_directory,
				 e);
		pf_open = r == 0;
	}
	if (r == 0) {
		pf_guard_req q = {.pf = &pf,
				  .endpoints = &eps,
				  .net = net,
				  .action = "retire",
				  .hint = retire_hint};

		r = withdraw_guard_check(&q, gr, rs->n, e);
	}
	if (pf_open)
		postfix_close(&pf);
	for (size_t k = 0; k < rs->n_keys; k++)
		pf_pubkey_free(&pk[k]);
	free(pk);
	free(gr);
	free(eps.v);
	pf_strv_clear(&hosts);
	return r;
}

/*
 * Apply op to every record of rs, zone by zone, and print the table.
 * Returns an exit code.
 */
static int apply(pf_cli *cli, records *rs, enum dns_change_op op, bool dry_run)
{
	dns_tsig_key *key = NULL;
	pf_err e = {0};
	int rc = PF_EXIT_OK;

	if (op == DNS_OP_DELETE && guard(cli->net, &cli->cfg, rs, &e) < 0)
		return cli_fail(&e);
	if (cli->cfg.dns_tsig_key_file &&
	    dns_tsig_key_load(cli->cfg.dns_tsig_key_file, &key, &e) < 0)
		return cli_fail(&e);
	for (size_t z = 0; z < rs->n_zones && rc == PF_EXIT_OK; z++) {
		const dns_zone_info *zi = &rs->zones[z];
		dns_change *sub = pf_calloc(rs->n + 1, sizeof(*sub));
		size_t *map = pf_calloc(rs->n + 1, sizeof(*map)), m = 0;
		dns_update_result res;
		dns_update_opts o = {
			.zone = zi,
			.tsig = key,
			.ttl = cli->cfg.tlsa_ttl,
			.dry_run = dry_run ? stdout : NULL,
			.verbose = cli->verbose ? stderr : NULL,
		};

		for (size_t i = 0; i < rs->n; i++) {
			if (rs->zone_of[i] != z)
				continue;
			sub[m] = rs->ch[i];
			sub[m].op = op;
			map[m++] = i;
		}
		if (!dry_run)
			print_zone_head(zi, key);
		pf_err_clear(&e);
		int r = net_update_apply(cli->net, &o, sub, m, &res, &e);
		for (size_t i = 0; i < m; i++)
			rs->ch[map[i]] = sub[i];
		if (!dry_run) {
			size_t done = 0, already = 0;
			for (size_t i = 0; i < m; i++) {
				char t[160];
				const dns_change *c = &sub[i];

				char ttl[16] = "";
				if (c->op == DNS_OP_ADD && c->result != DNS_CH_FAILED)
					snprintf(ttl, sizeof(ttl), " %u", c->ttl);
				printf("  %-16s %s%s IN TLSA %s\n", change_word(c), c->owner, ttl,
				       tlsa_format(&c->rd, t, sizeof(t)));
				done += c->result == DNS_CH_DONE;
				already += c->result == DNS_CH_ALREADY;
			}
			if (r == 0)
				printf("  %zu %s, %zu %s, in %zu update message%s; the update "
				       "server "
				       "serves the zone at serial %u%s\n",
				       done, op == DNS_OP_ADD ? "added" : "deleted", already,
				       op == DNS_OP_ADD ? "already present" : "already absent",
				       res.messages, res.messages == 1 ? "" : "s", res.serial,
				       res.zone_signed ? ", signed" : ", NOT signed");
		} else if (r == 0 && res.messages == 0) {
			bool any = false;
			for (size_t i = 0; i < m; i++)
				any |= sub[i].result == DNS_CH_PENDING;
			if (!any)
				printf(";; nothing to send for zone %s: every record is %s\n",
				       zi->zone,
				       op == DNS_OP_ADD ? "already present" : "already absent");
		}
		if (r == 0 && !res.zone_signed)
			warn_unsigned(zi->zone);
		if (r < 0)
			rc = cli_fail(&e);
		free(sub);
		free(map);
	}
	dns_tsig_key_free(key);
	return rc;
}

int cmd_publish(pf_cli *cli, int argc, char **argv)
{
	bool dry_run = false;
	records rs;
	pf_err e = {0};
	int c, r;

	optind = 1;
	while ((c = getopt(argc, argv, "+n")) != -1) {
		if (c != 'n')
			return cli_usage("publish [-n] [keyfile...]");
		dry_run = true;
	}
	if ((r = cli_config(cli, false)) != 0)
		return r;
	if (optind == argc && !dry_run) {
		/* The pending rollover's keys go through the engine, which reads
		 * the RRsets' TTLs before the update (the timing model needs the
		 * old ones) and records the publication. */
		pf_roll *roll = NULL;

		if (roll_open(&cli->cfg, &roll, &e) == 0) {
			roll_set_net(roll, cli->net);
			roll_set_lock_wait(roll, 60);
		}
		if (!roll || roll_publish(roll, &e) < 0) {
			roll_free(roll);
			return cli_fail(&e);
		}
		roll_free(roll);
		printf("the pending rollover's records are published\n");
		return PF_EXIT_OK;
	}
	pf_strv owned = {0};
	char **keys;
	size_t n_keys;
	if ((r = key_files(cli, argc, argv, &owned, &keys, &n_keys)) != 0)
		return r;
	if (collect(cli->net, &cli->cfg, keys, n_keys, &rs, &e) < 0) {
		pf_strv_clear(&owned);
		return cli_fail(&e);
	}
	r = apply(cli, &rs, DNS_OP_ADD, dry_run);
	records_free(&rs);
	pf_strv_clear(&owned);
	return r;
}

int cmd_retire(pf_cli *cli, int argc, char **argv)
{
	records rs;
	pf_err e = {0};
	int r;

	optind = 1;
	if (getopt(argc, argv, "+") != -1)
		return cli_usage("retire [keyfile...]");
	if ((r = cli_config(cli, false)) != 0)
		return r;
	if (optind == argc) {
		/* The keys the last rollover replaced: only through the engine,
		 * after the retire time and a verification of the new keys. */
		pf_roll *roll = NULL;

		if (roll_open(&cli->cfg, &roll, &e) == 0) {
			roll_set_net(roll, cli->net);
			roll_set_lock_wait(roll, 60);
		}
		if (!roll || roll_retire(roll, 60, &e) < 0) {
			roll_free(roll);
			return cli_fail(&e);
		}
		roll_free(roll);
		printf("the replaced keys' records are withdrawn and gone from every check "
		       "server\n");
		return PF_EXIT_OK;
	}
	if (collect(cli->net, &cli->cfg, argv + optind, (size_t)(argc - optind), &rs, &e) < 0)
		return cli_fail(&e);
	r = apply(cli, &rs, DNS_OP_DELETE, false);
	records_free(&rs);
	return r;
}

/* Print one round's table. */
static void print_round(const dns_prop_round *rd, const dns_prop_want *want, bool verbose)
{
	char lb[PF_ENDPOINT_BUF], ttl[32], ser[16], recs[32];

	printf("zone %s  %zu check server%s  %zu record%s\n", rd->zone, rd->n_servers,
	       rd->n_servers == 1 ? "" : "s", rd->n_want, rd->n_want == 1 ? "" : "s");
	printf("  %-30s %-22s %-10s %-11s %-6s %-6s %-10s %s\n", "SERVER", "ADDRESS", "SERIAL",
	       "RECORDS", "RRSIG", "TTL", "DNSSEC", "STATUS");
	for (size_t s = 0; s < rd->n_servers; s++) {
		const dns_prop_server *ps = &rd->servers[s];
		uint32_t t = 0;
		bool any = false, expired = false;

		for (size_t k = 0; k < rd->n_owners; k++) {
			const dns_prop_rrset *rs = &ps->rrsets[k];
			uint32_t v = rs->rrsig ? rs->orig_ttl : rs->ttl;
			if (rs->n_rr && v > t)
				t = v;
			any |= rs->n_rr > 0;
			expired |= rs->rrsig_expired;
		}
		/* The worst verdict over the RRsets served: bogus, insecure, validates. */
		enum dns_prop_verdict v = DNS_PROP_UNVALIDATED;
		const char *vmsg = "";
		for (size_t k = 0; k < rd->n_owners; k++) {
			const dns_prop_rrset *rs = &ps->rrsets[k];
			if (!rs->n_rr || rs->dnssec == DNS_PROP_UNVALIDATED)
				continue;
			if (v == DNS_PROP_UNVALIDATED || rs->dnssec == DNS_PROP_BOGUS ||
			    (rs->dnssec == DNS_PROP_INSECURE && v == DNS_PROP_VALIDATES)) {
				v = (enum dns_prop_verdict)rs->dnssec;
				vmsg = rs->dnssec_msg;
			}
		}
		snprintf(ser, sizeof(ser), "%u", ps->serial);
		snprintf(recs, sizeof(recs), "%zu/%zu", ps->n_match, rd->n_want);
		snprintf(ttl, sizeof(ttl), "%u", t);
		printf("  %-30s %-22s %-10s %-11s %-6s %-6s %-10s %s\n",
		       target_label(&ps->target, lb, sizeof(lb)), ps->target.addr.label,
		       ps->have_soa ? ser : "-", ps->state == DNS_PROP_NO_ANSWER ? "-" : recs,
		       !any             ? "-"
		       : ps->all_signed ? "yes"
		       : expired        ? "EXPIRED"
					: "NO",
		       any ? ttl : "-", v == DNS_PROP_UNVALIDATED ? "-" : dns_prop_verdict_name(v),
		       ps->state != DNS_PROP_OK ? ps->note
		       : ps->complete           ? "ok"
						: "missing records");
		if (v == DNS_PROP_BOGUS || v == DNS_PROP_INSECURE)
			printf("      DNSSEC %s: %s\n", dns_prop_verdict_name(v), vmsg);
		if (!verbose && ps->state == DNS_PROP_OK)
			continue;
		for (size_t w = 0; w < rd->n_want && ps->state == DNS_PROP_OK; w++) {
			char tb[160];
			if (ps->match[w] && !verbose)
				continue;
			printf("      %s %s TLSA %s\n",
			       ps->match[w] ? (want[w].present ? "serves " : "gone   ")
					    : (want[w].present ? "MISSING" : "STILL  "),
			       want[w].owner, tlsa_format(&want[w].rd, tb, sizeof(tb)));
		}
	}
	printf("  TTLs: TLSA %u s (original TTL), SOA %u s, SOA MINIMUM %u s\n", rd->max_tlsa_ttl,
	       rd->soa_ttl, rd->soa_minimum);
}

/* net_discover for dnssec_walk, with the manager as its userdata. */
static int cli_discover(void *ud, const pf_config *cfg, char *const *owners, size_t n_owners,
			dns_zone_info **ret, size_t *n_zones, size_t *owner_zone, pf_err *e)
{
	return net_discover(ud, cfg, owners, n_owners, ret, n_zones, owner_zone, e);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int cmd_propagation(pf_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {{"wait", no_argument, NULL, 'w'},
						 {NULL, 0, NULL, 0}};
	bool wait = false;
	records rs;
	pf_err e = {0};
	dns_net_opts o;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		if (c != 'w')
			return cli_usage("propagation [--wait] [keyfile...]");
		wait = true;
	}
	if ((r = cli_config(cli, false)) != 0)
		return r;
	pf_strv owned = {0};
	char **keys;
	size_t n_keys;
	if ((r = key_files(cli, argc, argv, &owned, &keys, &n_keys)) != 0)
		return r;
	r = collect(cli->net, &cli->cfg, keys, n_keys, &rs, &e);
	pf_strv_clear(&owned);
	if (r < 0)
		return cli_fail(&e);
	dns_net_opts_default(&o);

	dns_prop_want *want = pf_calloc(rs.n + 1, sizeof(*want));
	dns_prop_round *rounds = pf_calloc(rs.n_zones + 1, sizeof(*rounds));
	size_t *nw = pf_calloc(rs.n_zones + 1, sizeof(*nw)),
	       *first = pf_calloc(rs.n_zones + 1, sizeof(*first));
	size_t m = 0;
	for (size_t z = 0; z < rs.n_zones; z++) {
		first[z] = m;
		for (size_t i = 0; i < rs.n; i++) {
			if (rs.zone_of[i] != z)
				continue;
			snprintf(want[m].owner, sizeof(want[m].owner), "%s", rs.ch[i].owner);
			want[m].rd = rs.ch[i].rd;
			want[m++].present = true;
		}
		nw[z] = m - first[z];
	}
	/* Each zone's DNSSEC chain, asked once: "signed" means it validates. */
	dns_prop_dnssec *sec = pf_calloc(rs.n_zones + 1, sizeof(*sec));
	bool *chain = pf_calloc(rs.n_zones + 1, sizeof(*chain));
	char **chain_err = pf_calloc(rs.n_zones + 1, sizeof(*chain_err));
	for (size_t z = 0; z < rs.n_zones; z++) {
		pf_err we = {0};
		chain[z] = dnssec_walk(cli_discover, cli->net, &cli->cfg, &rs.zones[z], &sec[z],
				       &we) == 0;
		if (!chain[z])
			chain_err[z] = pf_strdup(we.msg);
	}
	/* The engine's poll schedule (pf_poll_next_ms), counted from now:
	 * this command does not know when the records were published. */
	int64_t started_ms = pf_now_ms(), pause = 0;
	unsigned round = 0;
	char last_missing[1024] = "";
	int64_t t_conf = 0;
	bool all = false;
	for (;;) {
		char missing[1024] = "";
		size_t ml = 0;

		all = true;
		round++;
		for (size_t z = 0; z < rs.n_zones; z++) {
			dns_prop_round_free(&rounds[z]);
			o.dnssec = chain[z] ? &sec[z] : NULL;
			if (net_prop_run(cli->net, &rs.zones[z], want + first[z], nw[z], &o,
					 &rounds[z], &e) < 0) {
				r = cli_fail(&e);
				goto out;
			}
			o.dnssec = NULL;
			all &= rounds[z].all_complete;
			/* A signed zone: a bogus answer, or a chain not checked, counts
			 * for nothing. */
			for (size_t s = 0; rounds[z].zone_signed && s < rounds[z].n_servers; s++)
				all &= chain[z] && rounds[z].servers[s].all_signed;
			for (size_t s = 0; s < rounds[z].n_servers; s++) {
				const dns_prop_server *ps = &rounds[z].servers[s];
				if (!ps->complete && ml + 100 < sizeof(missing))
					ml += (size_t)snprintf(missing + ml, sizeof(missing) - ml,
							       "%s%s %s", ml ? ", " : "",
							       ps->target.name[0] ? ps->target.name
										  : "server",
							       ps->target.addr.label);
			}
		}
		if (all || !wait)
			break;
		/* Say what is awaited when it changes, not every round. */
		if (strcmp(missing, last_missing) != 0) {
			fprintf(stderr, "pftls-roll: waiting for %s\n", missing);
			snprintf(last_missing, sizeof(last_missing), "%s", missing);
		}
		pause = pf_poll_next_ms(pf_now_ms() - started_ms, pause);
		sleep_ms((unsigned)pause);
	}
	t_conf = (pf_now_ms() + 999) / 1000; /* rounded up: it starts the wait */
	for (size_t z = 0; z < rs.n_zones; z++) {
		print_round(&rounds[z], want + first[z], cli->verbose > 0);
		if (chain_err[z] && rounds[z].zone_signed)
			printf("  DNSSEC not checked: %s\n", chain_err[z]);
		if (!rounds[z].zone_signed)
			warn_unsigned(rounds[z].zone);
	}
	if (!all) {
		printf("not every check server serves every record\n");
		r = PF_EXIT_FAIL;
		goto out;
	}
	printf("every check server serves every record%s\n", round > 1 ? " (waited)" : "");
	if (wait) {
		/* SPEC.md 4, counted from now: this command does not know when the
		 * records were published or what TTL the RRset had before, so it
		 * takes the larger of what it sees and tlsa_ttl, and always the
		 * negative-caching TTL. */
		pf_timing_params tp;
		uint32_t seen = 0, neg = 0, ttl_eff;
		for (size_t z = 0; z < rs.n_zones; z++) {
			const dns_prop_round *rd = &rounds[z];
			uint32_t n = pf_timing_ttl_negative(rd->soa_ttl, rd->soa_minimum);
			if (rd->max_tlsa_ttl > seen)
				seen = rd->max_tlsa_ttl;
			if (n > neg)
				neg = n;
		}
		ttl_eff = pf_timing_ttl_eff(cli->cfg.tlsa_ttl, seen, neg);
		/* max(T_conf, T_pub + propagation_min_delay), with T_pub taken
		 * as now: the later of the two. */
		pf_timing_params_from_config(&cli->cfg, &tp);
		int64_t safe = pf_timing_deploy_at(&tp, t_conf, t_conf, ttl_eff);
		char when[64], d[32];
		time_t tt = (time_t)safe;
		struct tm tm;
		gmtime_r(&tt, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
		printf("deployment becomes safe at %s (in %s: %u x TTL %u s + publish_safety "
		       "%llds)\n",
		       when, pf_fmt_duration(safe - pf_now(), d, sizeof(d)), cli->cfg.ttl_factor,
		       ttl_eff, (long long)cli->cfg.publish_safety);
	}
	r = PF_EXIT_OK;
out:
	for (size_t z = 0; z < rs.n_zones; z++) {
		dns_prop_round_free(&rounds[z]);
		dnssec_walk_free(&sec[z]);
		free(chain_err[z]);
	}
	free(sec);
	free(chain);
	free(chain_err);
	free(rounds);
	free(want);
	free(nw);
	free(first);
	records_free(&rs);
	return r;
}
