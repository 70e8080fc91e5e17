/*
 * test_state_scale.c - the state file of one daemon with many names (SPEC.md
 * 7): 1,000 names x 2 ports x 2 record types x RSA and ECDSA x old and next
 * keys are 16,000 records.  Such a state saves, loads and comes back equal;
 * a record listed twice among them is still refused.
 * (The state once held at most 4,096 records and 1 MiB: 520 names with two
 * record types could not be rolled at all.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/state.h"
#include "t.h"

#define NAMES 1000

static int fill(pf_state *st, pf_err *e)
{
	static const char *keys[2][2][2] = {
		{{"/etc/postfix/key-next.pem", "/etc/postfix/cert-next.pem"},
		 {"/etc/postfix/key-old.pem", "/etc/postfix/cert-old.pem"}},
		{{"/etc/postfix/eckey-next.pem", "/etc/postfix/eccert-next.pem"},
		 {"/etc/postfix/eckey-old.pem", "/etc/postfix/eccert-old.pem"}},
	};
	static const uint16_t ports[] = {25, 465};
	char spki[65];
	int r = 0;

	pf_state_begin(st, 1700000000);
	st->phase = PF_PHASE_GENERATED;
	st->t[PF_T_GENERATED] = 1700000001;
	for (int a = 0; a < 2 && r == 0; a++)
		for (int role = 0; role < 2 && r == 0; role++) {
			memset(spki, 'a' + a * 2 + role, 64);
			spki[64] = '\0';
			r = pf_state_set_key(st, (enum pf_alg)a, (enum pf_role)role,
					     keys[a][role][0], keys[a][role][1], spki, e);
		}
	for (int role = 0; role < 2; role++)
		for (int a = 0; a < 2; a++)
			for (int h = 0; h < NAMES; h++)
				for (int p = 0; p < 2; p++)
					for (int m = 1; m <= 2 && r == 0; m++) {
						pf_tlsa_rdata rd = {.usage = 3,
								    .selector = 1,
								    .mtype = (uint8_t)m,
								    .len = m == 1 ? 32 : 64};
						char host[64];

						memset(rd.data, 0x10 * (a + 1) + role, rd.len);
						snprintf(host, sizeof(host), "mx%03d.example.test",
							 h);
						r = pf_state_add_record(st, (enum pf_role)role,
									(enum pf_alg)a, host,
									ports[p], &rd, e);
					}
	return r;
}

int main(void)
{
	pf_state st, back;
	pf_err e = {0};
	char *text = NULL;
	size_t len = 0;
	bool same = true;

	pf_state_init(&st);
	T_CHECK(fill(&st, &e) == 0, "16,000 records go into one state (%s)", e.msg);
	T_CHECK(st.n_records == 16 * NAMES, "%zu records", st.n_records);
	T_CHECK(pf_state_format(&st, &text, &len, &e) == 0, "the state is written (%zu bytes) (%s)",
		len, e.msg);
	T_CHECK(text && pf_state_parse("t", text, len, &back, &e) == 0, "and read back (%s)",
		e.msg);
	if (text && back.n_records == st.n_records) {
		for (size_t i = 0; i < st.n_records && same; i++)
			same = pf_state_record_cmp(&st.records[i], &back.records[i]) == 0 &&
			       st.records[i].role == back.records[i].role &&
			       st.records[i].alg == back.records[i].alg;
		T_CHECK(same, "every record comes back as it was, in order");
		pf_state_free(&back);
	} else {
		T_CHECK(false, "as many records read as written");
	}

	/* A record listed twice, far apart: found all the same (test_state.c
	 * checks that the parser names the line). */
	if (text) {
		pf_state dup;

		T_CHECK(pf_state_parse("t", text, len, &dup, &e) == 0, "parsed again (%s)", e.msg);
		dup.records[dup.n_records - 1] = dup.records[0];
		free(text);
		text = NULL;
		T_CHECK(pf_state_format(&dup, &text, &len, &e) == -EINVAL &&
				t_streq(e.msg,
					"record for mx000.example.test port 25 listed twice"),
			"a state with a record twice among 16,000 is not written (%s)", e.msg);
		pf_state_free(&dup);
	}
	free(text);
	pf_state_free(&st);
	T_DONE();
}
