/*
 * test_metrics.c - the metrics_file renderer (metrics.c): every rendering
 * is parsed back, line by line, by a strict checker of the Prometheus text
 * exposition format written here (HELP and TYPE once per family and before
 * its samples, families not interleaved, metric and label names, label
 * escapes, numeric values, no duplicate series, counters named _total);
 * then a table of cases: each phase, label escaping of '"', '\' and
 * newline, counters, facts left out when unknown, the next-step
 * countdown, and the atomic write (mode 0644 under umask 077).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/metrics.h"
#include "t.h"
#include "../../daemon/macro.h"

#define T0 1700000000

/* ---- the checker ---- */

#define MAX_SAMPLES 64

typedef struct psample {
	char name[128];
	char label[64];  /* "" when the sample has no label */
	char value[512]; /* the label value, unescaped */
	double v;
} psample;

typedef struct pfamily {
	char name[128];
	char type[16];
	bool help;
} pfamily;

typedef struct parsed {
	psample s[MAX_SAMPLES];
	size_t n;
	pfamily f[MAX_SAMPLES];
	size_t nf;
} parsed;

static bool metric_name_ok(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != ':')
			return false;
	return true;
}

static bool label_name_ok(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_') ||
	    (n >= 2 && s[0] == '_' && s[1] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

static pfamily *find_family(parsed *p, const char *name)
{
	for (size_t i = 0; i < p->nf; i++)
		if (strcmp(p->f[i].name, name) == 0)
			return &p->f[i];
	return NULL;
}

/* Parse one sample line into *s.  Returns NULL or what is wrong. */
static const char *parse_sample(const char *line, psample *s)
{
	const char *p = line, *q;
	char *end;

	while (*p && *p != '{' && *p != ' ')
		p++;
	if (!metric_name_ok(line, (size_t)(p - line)) || (size_t)(p - line) >= sizeof(s->name))
		return "bad metric name";
	memcpy(s->name, line, (size_t)(p - line));
	s->name[p - line] = '\0';
	if (*p == '{') {
		size_t n = 0;

		q = ++p;
		while (*p && *p != '=')
			p++;
		if (*p != '=' || !label_name_ok(q, (size_t)(p - q)) ||
		    (size_t)(p - q) >= sizeof(s->label))
			return "bad label name";
		memcpy(s->label, q, (size_t)(p - q));
		s->label[p - q] = '\0';
		if (*++p != '"')
			return "label value not quoted";
		for (p++; *p && *p != '"'; p++) {
			char c = *p;

			if (c == '\\') {
				p++;
				if (*p == '\\' || *p == '"')
					c = *p;
				else if (*p == 'n')
					c = '\n';
				else
					return "bad escape in a label value";
			}
			if (n + 1 >= sizeof(s->value))
				return "label value too long";
			s->value[n++] = c;
		}
		s->value[n] = '\0';
		if (*p != '"' || *++p != '}')
			return "label set not closed (one label per sample expected)";
		p++;
	}
	if (*p != ' ' || !p[1] || p[1] == ' ')
		return "no single space before the value";
	s->v = strtod(p + 1, &end);
	if (*end)
		return "the value is not a number (or is followed by something)";
	return NULL;
}

/* Check text as the exposition format; fill *ret.  Returns NULL or what
 * is wrong, in why. */
static const char *check_text(const char *text, parsed *ret, char *why, size_t wlen)
{
	const char *line = text;
	pfamily *cur = NULL;
	unsigned ln = 0;

	memset(ret, 0, sizeof(*ret));
	if (!*text || text[strlen(text) - 1] != '\n')
		return snprintf(why, wlen, "empty, or the last line is not terminated"), why;
	while (*line) {
		const char *nl = strchr(line, '\n');
		char buf[1024];
		size_t len = (size_t)(nl - line);

		ln++;
		if (len == 0 || len >= sizeof(buf))
			return snprintf(why, wlen, "line %u: empty or too long", ln), why;
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = nl + 1;
		if (strncmp(buf, "# HELP ", 7) == 0 || strncmp(buf, "# TYPE ", 7) == 0) {
			bool help = buf[2] == 'H';
			char *name = buf + 7, *sp = strchr(name, ' ');
			pfamily *f;

			if (!sp || !sp[1] || !metric_name_ok(name, (size_t)(sp - name)))
				return snprintf(why, wlen, "line %u: bad %.4s line", ln,
						help ? "HELP" : "TYPE"),
				       why;
			*sp = '\0';
			f = find_family(ret, name);
			if (f && f != cur)
				return snprintf(why, wlen, "line %u: family %.100s interleaved", ln,
						name),
				       why;
			if (!f) {
				if (ret->nf >= MAX_SAMPLES)
					return "too many families";
				f = &ret->f[ret->nf++];
				snprintf(f->name, sizeof(f->name), "%.127s", name);
			}
			cur = f;
			if (help) {
				if (f->help || f->type[0])
					return snprintf(why, wlen,
							"line %u: HELP repeated or after TYPE", ln),
					       why;
				f->help = true;
			} else {
				if (f->type[0])
					return snprintf(why, wlen, "line %u: TYPE repeated", ln),
					       why;
				if (strcmp(sp + 1, "counter") && strcmp(sp + 1, "gauge"))
					return snprintf(why, wlen, "line %u: type %.20s", ln,
							sp + 1),
					       why;
				snprintf(f->type, sizeof(f->type), "%.15s", sp + 1);
			}
			continue;
		}
		if (buf[0] == '#')
			return snprintf(why, wlen, "line %u: a comment that is not HELP/TYPE", ln),
			       why;
		if (ret->n >= MAX_SAMPLES)
			return "too many samples";
		psample *s = &ret->s[ret->n];
		const char *bad = parse_sample(buf, s);

		if (bad)
			return snprintf(why, wlen, "line %u: %.100s: %.100s", ln, bad, buf), why;
		if (!cur || strcmp(cur->name, s->name) != 0 || !cur->type[0] || !cur->help)
			return snprintf(why, wlen, "line %u: sample %s without its HELP and TYPE",
					ln, s->name),
			       why;
		if (strncmp(s->name, "pftls_", 6) != 0)
			return snprintf(why, wlen, "line %u: %s lacks the pftls_ prefix", ln,
					s->name),
			       why;
		if (strcmp(cur->type, "counter") == 0 &&
		    (strlen(s->name) < 6 || strcmp(s->name + strlen(s->name) - 6, "_total") != 0))
			return snprintf(why, wlen, "line %u: counter %s not named _total", ln,
					s->name),
			       why;
		for (size_t i = 0; i < ret->n; i++)
			if (strcmp(ret->s[i].name, s->name) == 0 &&
			    strcmp(ret->s[i].label, s->label) == 0 &&
			    strcmp(ret->s[i].value, s->value) == 0)
				return snprintf(why, wlen, "line %u: series repeated", ln), why;
		ret->n++;
	}
	return NULL;
}

/* The value of series name{label="value"} (label NULL: no label); sets
 * *found. */
static double value_of(const parsed *p, const char *name, const char *value, bool *found)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->s[i].name, name) == 0 &&
		    (value ? strcmp(p->s[i].value, value) == 0 : !p->s[i].label[0])) {
			*found = true;
			return p->s[i].v;
		}
	*found = false;
	return -1;
}

static bool has_family(const parsed *p, const char *name)
{
	for (size_t i = 0; i < p->nf; i++)
		if (strcmp(p->f[i].name, name) == 0)
			return true;
	return false;
}

/* Render m and check it; prints a FAIL line when it does not parse. */
static bool render_check(const char *what, const pf_metrics *m, parsed *p, char **ret_text)
{
	char why[300];
	char *text = metrics_render(m);
	const char *bad = check_text(text, p, why, sizeof(why));

	T_CHECK(!bad, "%s: the rendering parses as the exposition format%s%s", what,
		bad ? ": " : "", bad ? bad : "");
	if (ret_text)
		*ret_text = text;
	else
		free(text);
	return !bad;
}

/* ---- the cases ---- */

static void base(pf_metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->now = T0;
	m->keys[PF_ALG_RSA] = (pf_metrics_key){true, 86400, T0 + 30 * 86400};
	m->keys[PF_ALG_ECDSA] = (pf_metrics_key){true, 3600, T0 + 7 * 86400};
}

static void test_checker(void)
{
	static const struct {
		const char *name, *text;
	} bad[] = {
		{"a sample before its TYPE", "pftls_x 1\n"},
		{"HELP without TYPE", "# HELP pftls_x x\npftls_x 1\n"},
		{"a bad escape", "# HELP pftls_x x\n# TYPE pftls_x gauge\npftls_x{a=\"\\t\"} 1\n"},
		{"a repeated series",
		 "# HELP pftls_x x\n# TYPE pftls_x gauge\npftls_x 1\npftls_x 2\n"},
		{"a counter not named _total",
		 "# HELP pftls_x x\n# TYPE pftls_x counter\npftls_x 1\n"},
		{"interleaved families", "# HELP pftls_x x\n# TYPE pftls_x gauge\npftls_x 1\n"
					 "# HELP pftls_y y\n# TYPE pftls_y gauge\npftls_y 1\n"
					 "# HELP pftls_x x\n"},
		{"a value that is not a number",
		 "# HELP pftls_x x\n# TYPE pftls_x gauge\npftls_x one\n"},
		{"an unterminated last line", "# HELP pftls_x x\n# TYPE pftls_x gauge\npftls_x 1"},
		{"an unquoted label value",
		 "# HELP pftls_x x\n# TYPE pftls_x gauge\npftls_x{a=b} 1\n"},
	};
	parsed p;
	char why[300];

	for (size_t i = 0; i < PF_ELEMENTSOF(bad); i++)
		T_CHECK(check_text(bad[i].text, &p, why, sizeof(why)) != NULL,
			"checker: refuses %s", bad[i].name);
	T_CHECK(check_text("# HELP pftls_x x\n# TYPE pftls_x gauge\npftls_x{a=\"q\\\"\"} 1.5\n", &p,
			   why, sizeof(why)) == NULL &&
			p.n == 1 && t_streq(p.s[0].value, "q\"") && p.s[0].v == 1.5,
		"checker: accepts and unescapes a good family");
}

static void test_phases(void)
{
	for (int ph = 0; ph < PF_PHASE_COUNT; ph++) {
		pf_metrics m;
		parsed p;
		int ones = 0, series = 0;
		bool found;

		base(&m);
		m.phase = (enum pf_phase)ph;
		if (!render_check(pf_phase_name(m.phase), &m, &p, NULL))
			continue;
		for (size_t i = 0; i < p.n; i++) {
			if (strcmp(p.s[i].name, "pftls_phase") != 0)
				continue;
			series++;
			T_CHECK(t_streq(p.s[i].label, "phase"), "phase %s: label name phase",
				pf_phase_name(m.phase));
			ones += p.s[i].v == 1;
		}
		T_CHECK(series == PF_PHASE_COUNT && ones == 1 &&
				value_of(&p, "pftls_phase", pf_phase_name(m.phase), &found) == 1 &&
				found,
			"phase %s: one series per phase (%d), 1 for the current one only",
			pf_phase_name(m.phase), series);
	}
}

static void test_escaping(void)
{
	static const char *const names[] = {"ns1.example.test:53", "a\"b:53", "c\\d:53", "e\nf:53",
					    "\\\"\n"};
	pf_metrics m;
	parsed p;
	char *text = NULL;
	bool found;

	base(&m);
	m.phase = PF_PHASE_PUBLISHED;
	for (size_t i = 0; i < PF_ELEMENTSOF(names); i++)
		metrics_add_server(&m, names[i], i % 2 == 0);
	if (render_check("escaping", &m, &p, &text)) {
		for (size_t i = 0; i < PF_ELEMENTSOF(names); i++) {
			double v = value_of(&p, "pftls_records_served", names[i], &found);

			T_CHECK(found && v == (i % 2 == 0),
				"escaping: server %zu comes back unescaped, value %d", i,
				i % 2 == 0);
		}
		T_CHECK(strstr(text, "server=\"a\\\"b:53\"") &&
				strstr(text, "server=\"c\\\\d:53\"") &&
				strstr(text, "server=\"e\\nf:53\"") &&
				strstr(text, "server=\"\\\\\\\"\\n\""),
			"escaping: \" as \\\", \\ as \\\\, newline as \\n in the text");
	}
	free(text);
	metrics_clear(&m);
	T_CHECK(m.servers == NULL && m.n_servers == 0, "metrics_clear empties the servers");
}

static void test_counters_and_facts(void)
{
	pf_metrics m;
	parsed p;
	bool f1, f2, f3, f4;
	double v;

	base(&m);
	m.rollovers_completed = 3;
	m.rollovers_failed = 1;
	m.next_step_at = T0 + 90;
	m.last_phase_change = T0 - 5;
	if (render_check("counters", &m, &p, NULL)) {
		T_CHECK(value_of(&p, "pftls_rollovers_completed_total", NULL, &f1) == 3 && f1 &&
				value_of(&p, "pftls_rollovers_failed_total", NULL, &f2) == 1 && f2,
			"counters: completed 3, failed 1");
		T_CHECK(t_streq(find_family(&p, "pftls_rollovers_completed_total")->type,
				"counter") &&
				t_streq(find_family(&p, "pftls_rollovers_failed_total")->type,
					"counter"),
			"counters: TYPE counter");
		T_CHECK(value_of(&p, "pftls_next_step_seconds", NULL, &f1) == 90 && f1 &&
				value_of(&p, "pftls_next_step_timestamp_seconds", NULL, &f2) ==
					T0 + 90 &&
				f2,
			"next step: in 90 s, at T0 + 90");
		T_CHECK(value_of(&p, "pftls_last_phase_change_timestamp_seconds", NULL, &f1) ==
					T0 - 5 &&
				f1 &&
				value_of(&p, "pftls_metrics_write_timestamp_seconds", NULL, &f2) ==
					T0 &&
				f2,
			"timestamps: last phase change, write time");
		v = value_of(&p, "pftls_key_age_seconds", "rsa", &f1);
		T_CHECK(f1 && v == 86400 &&
				value_of(&p, "pftls_key_age_seconds", "ecdsa", &f2) == 3600 && f2,
			"key ages by algorithm");
		T_CHECK(value_of(&p, "pftls_certificate_expiry_timestamp_seconds", "rsa", &f3) ==
					T0 + 30 * 86400 &&
				f3 &&
				value_of(&p, "pftls_certificate_expiry_timestamp_seconds", "ecdsa",
					 &f4) == T0 + 7 * 86400 &&
				f4,
			"certificate expiry by algorithm");
	}
	m.next_step_at = T0 - 10;
	if (render_check("next step past", &m, &p, NULL))
		T_CHECK(value_of(&p, "pftls_next_step_seconds", NULL, &f1) == 0 && f1,
			"next step in the past: 0 seconds, not negative");

	/* Unknown facts are left out. */
	memset(&m, 0, sizeof(m));
	m.now = T0;
	m.keys[PF_ALG_RSA] = (pf_metrics_key){true, -1, 0};
	if (render_check("unknown facts", &m, &p, NULL))
		T_CHECK(!has_family(&p, "pftls_next_step_seconds") &&
				!has_family(&p, "pftls_last_phase_change_timestamp_seconds") &&
				!has_family(&p, "pftls_key_age_seconds") &&
				!has_family(&p, "pftls_certificate_expiry_timestamp_seconds") &&
				!has_family(&p, "pftls_records_served") &&
				value_of(&p, "pftls_rollovers_completed_total", NULL, &f1) == 0 &&
				f1,
			"unknown facts are left out; counters are there at 0");
}

static void test_write(void)
{
	char dir[] = "/tmp/pftls-test-metrics.XXXXXX";
	char *path, *text = NULL, *want;
	pf_metrics m;
	pf_err e = {0};
	struct stat st;
	size_t len = 0, n = 0;
	mode_t old = umask(077);
	DIR *d;
	struct dirent *de;

	if (!mkdtemp(dir))
		abort();
	path = pf_asprintf("%s/pftls.prom", dir);
	base(&m);
	T_CHECK(metrics_write(path, &m, &e) == 0, "write: metrics_write succeeds (%s)", e.msg);
	m.rollovers_completed = 7;
	T_CHECK(metrics_write(path, &m, &e) == 0, "write: a second write replaces the file");
	want = metrics_render(&m);
	T_CHECK(pf_read_file(path, 1 << 20, &text, &len, &e) == 0 && t_streq(text, want),
		"write: the file holds the rendering of the last write");
	T_CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644,
		"write: mode 0644 under umask 077 (%o)", st.st_mode & 07777);
	d = opendir(dir);
	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."));
	if (d)
		closedir(d);
	T_CHECK(n == 1, "write: no temporary file left beside it (%zu entries)", n);
	T_CHECK(metrics_write("/nonexistent-dir/x.prom", &m, &e) < 0 && e.msg[0],
		"write: a directory that does not exist is an error with a message");
	umask(old);
	unlink(path);
	rmdir(dir);
	free(path);
	free(text);
	free(want);
}

int main(void)
{
	test_checker();
	test_phases();
	test_escaping();
	test_counters_and_facts();
	test_write();
	T_DONE();
}
