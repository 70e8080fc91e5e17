/*
 * status.h - the "status" report of a rollover, as text for people and as
 * JSON for scripts (schema version 1, documented in pftls-roll(8)).  A pure
 * function of the persisted state and its timing: it reads nothing else.
 */
#ifndef PF_STATUS_H
#define PF_STATUS_H

#include <stdbool.h>
#include <stdio.h>

#include "state.h"
#include "timing.h"

/* s as a JSON string, escaped (quotes, backslash, control characters);
 * NULL prints null.  The status JSON's, and the audit file's. */
void pf_json_string(FILE *out, const char *s);

/*
 * One line on what a rollover asked for now (an emergency, after a key
 * compromise) would do: deploy at once (returns true), deploy from a time,
 * or wait for a next key to be staged or published first.
 */
bool pf_status_emergency(const pf_state *st, const pf_timing *t, int64_t now, char *buf,
			 size_t len);

void pf_status_print(const pf_state *st, const pf_timing *t, int64_t now, bool json, FILE *out);

#endif
