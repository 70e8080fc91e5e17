/*
 * postfix.h - the Postfix adapter: the ONLY module that reads or changes
 * Postfix configuration.  Everything goes through Postfix's own postconf(1)
 * and postfix(1) from postfix_command_directory, run with "-c CONFIG_DIR"
 * by fork/execv (never a shell), so main.cf syntax, $name expansion and
 * defaults are Postfix's own.
 *
 * It also knows which main.cf parameters put a server key into service:
 * the legacy smtpd_tls_{,ec}{key,cert}_file pairs, smtpd_tls_chain_files
 * (which, when set, makes Postfix ignore the legacy ones), and the
 * tlsproxy_tls_* twins that tlsproxy(8) inherits unless main.cf sets them.
 */
#ifndef PF_POSTFIX_H
#define PF_POSTFIX_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "util.h"

/* Largest postconf/postfix output kept; more is an error. */
#define PF_POSTFIX_OUTPUT_MAX (1024 * 1024)

typedef struct pf_postfix {
	char *config_dir; /* absolute, no trailing slash */
	char *command_dir;
	char *postconf; /* COMMAND_DIR/postconf */
	char *postfix;  /* COMMAND_DIR/postfix */
} pf_postfix;

/*
 * Prepare to talk to the instance in config_dir with the programs in
 * command_dir: both must be absolute directories and postconf must be
 * executable.  Returns 0 or -errno (exit code 2: a configuration problem).
 */
int postfix_open(pf_postfix *pf, const char *command_dir, const char *config_dir, pf_err *e);
void postfix_close(pf_postfix *pf);

/*
 * Run argv (argv[0] an absolute path, or a bare name looked up in PATH)
 * without a shell, stdin from /dev/null, stdout and stderr captured
 * (ret_out / ret_err may be NULL to discard; the caller frees them).  The
 * child is killed after timeout_sec.  Returns the exit status (0..255), or
 * -errno when the program could not be run or died on a signal.
 */
int postfix_run(char *const argv[], int timeout_sec, char **ret_out, char **ret_err, pf_err *e);

/* Flags for postfix_get: postconf's -n, -x and -d. */
enum {
	PF_PC_EXPLICIT = 1, /* -n: only what main.cf sets; others come back NULL */
	PF_PC_EXPAND = 2,   /* -x: expand $name references */
	PF_PC_DEFAULT = 4,  /* -d: compiled-in defaults */
};

/*
 * Values of n parameters in one postconf call.  ret[i] is a new string for
 * names[i], or NULL when the parameter is not set in main.cf
 * (PF_PC_EXPLICIT) or unknown to postconf.  The caller frees each with
 * free().  Returns 0 or -errno; the message names the command and quotes
 * its error line.
 */
int postfix_get(pf_postfix *pf, int flags, const char *const *names, size_t n, char **ret,
		pf_err *e);

/*
 * postconf's output out (changed in place) for names[0..n): ret[i] becomes
 * a new string, the value of the first line "NAME = VALUE" (or "" for
 * "NAME =") for names[i], when ret[i] is still NULL; other lines are
 * ignored.  postfix_get's parser, on its own for the fuzz harness.
 */
void postfix_parse_values(char *out, const char *const *names, size_t n, char **ret);

/* True when raw (an unexpanded main.cf value) is just a reference to
 * param, as the tlsproxy_tls_* defaults are: "$p", "${p}" or "$(p)",
 * with blanks around it. */
bool postfix_is_reference_to(const char *raw, const char *param);

/* One parameter: *ret is a new string or NULL as above.  Returns 0/-errno. */
int postfix_get1(pf_postfix *pf, int flags, const char *name, char **ret, pf_err *e);

/*
 * Set every "name = value" of settings in main.cf with ONE "postconf -e"
 * (postconf delays on a freshly changed main.cf, so calls are not split).
 * An empty list does nothing.  Returns 0 or -errno.
 */
int postfix_set(pf_postfix *pf, const pf_strv *settings, pf_err *e);

/* Remove the named parameters from main.cf ("postconf -X").  Returns 0/-errno. */
int postfix_unset(pf_postfix *pf, const pf_strv *names, pf_err *e);

/* The lookup table types this Postfix supports ("postconf -m") into ret. */
int postfix_map_types(pf_postfix *pf, pf_strv *ret, pf_err *e);

/* "postfix -c DIR check".  Returns 0, or -errno with its complaint.  It
 * runs postsuper, which needs CAP_SETUID and CAP_SETGID (reload.h). */
int postfix_check(pf_postfix *pf, pf_err *e);

/*
 * The check of main.cf that needs no privilege, for a deploy where
 * "postfix check" cannot run: "postconf -n -x" parses main.cf without a
 * fatal error, warns about none of the settings ("name = value") just
 * written, and reads each of them back, expanded, as written.  Returns 0
 * or -errno naming the setting.
 */
int postfix_check_settings(pf_postfix *pf, const pf_strv *settings, pf_err *e);

/*
 * Run a reload command line, split on white space (no shell, no quoting),
 * e.g. the result of pf_config_reload_command().  Returns 0 or -errno.
 */
int postfix_reload(pf_postfix *pf, const char *command_line, pf_err *e);

/*
 * myhostname as "postfix tls" uses it: the expanded value, or when that is
 * a /path, the first line of that file.  Returns 0 or -errno; *ret is new.
 */
int postfix_myhostname(pf_postfix *pf, char **ret, pf_err *e);

/* The main.cf parameters naming the key and certificate files of alg for
 * prefix "smtpd" or "tlsproxy", into buffers of at least 40 bytes. */
void postfix_key_params(const char *prefix, enum pf_alg alg, char *key_param, char *cert_param);

/* Every parameter a key deployment may change, NULL-terminated: what a
 * caller snapshots before a deploy to be able to undo it. */
extern const char *const postfix_tls_server_params[];

/* Where one endpoint (smtpd or tlsproxy) gets its keys from. */
typedef struct pf_tls_files {
	bool chain_files;             /* PREFIX_tls_chain_files is in use */
	char *key_file[PF_ALG_COUNT]; /* expanded path, NULL: none deployed */
	char *cert_file[PF_ALG_COUNT];
} pf_tls_files;

void pf_tls_files_free(pf_tls_files *f);

/*
 * The key and certificate files in service per algorithm for prefix
 * "smtpd" or "tlsproxy" (with tlsproxy's inheritance from smtpd_tls_*
 * resolved by postconf).  With smtpd_tls_chain_files in use each file is
 * opened to learn which algorithm it holds (public material only).
 * Returns 0 or -errno.
 */
int postfix_deployed(pf_postfix *pf, const char *prefix, pf_tls_files *ret, pf_err *e);

/*
 * The "name = value" settings that put keyfile+certfile (both absolute,
 * algorithm alg) into service, appended to ret: the matching pair inside
 * smtpd_tls_chain_files when main.cf uses that list, else the legacy
 * key/cert parameters (key first, as "postfix tls" writes them); plus the
 * same for every tlsproxy_tls_* parameter main.cf sets to something other
 * than its smtpd_tls_* default.  Returns 0 or -errno.
 */
int postfix_deploy_settings(pf_postfix *pf, enum pf_alg alg, const char *keyfile,
			    const char *certfile, pf_strv *ret, pf_err *e);

/* The tlsproxy_tls_* key/cert parameters main.cf sets explicitly to
 * something other than the smtpd_tls_* value, as "name = raw value" into
 * ret.  Returns 0 or -errno. */
int postfix_tlsproxy_overrides(pf_postfix *pf, pf_strv *ret, pf_err *e);

/*
 * What a file is at one moment, to tell later whether it may have changed:
 * device, inode, size, modification time (ns) and the SHA-256 of its
 * content.  A file that does not exist has a mark too (exists false).  A
 * deploy prepared ahead (roll_deploy.c) holds only while the marks of
 * main.cf, master.cf and the key files involved stay equal.
 */
typedef struct pf_file_mark {
	bool exists;
	unsigned long long dev, ino;
	long long size;
	long long mtime_ns;
	unsigned char sha256[32];
} pf_file_mark;

/* The mark of path as it is now (following symbolic links).  Returns 0
 * (also for a file that does not exist) or -errno. */
int postfix_mark(const char *path, pf_file_mark *ret, pf_err *e);
/* True when a and b are marks of the same file with the same content. */
bool postfix_mark_equal(const pf_file_mark *a, const pf_file_mark *b);

/* A saved copy of some main.cf parameters, raw (unexpanded). */
typedef struct pf_snapshot {
	pf_strv names;
	char **values; /* per name; NULL: the parameter was not set */
} pf_snapshot;

/* Save the raw main.cf values of names.  Returns 0 or -errno. */
int postfix_snapshot(pf_postfix *pf, const char *const *names, pf_snapshot *ret, pf_err *e);
/* Put main.cf back as saved: one "postconf -e" for the set ones, one
 * "postconf -X" for the unset ones.  Returns 0 or -errno. */
int postfix_restore(pf_postfix *pf, const pf_snapshot *s, pf_err *e);
void pf_snapshot_free(pf_snapshot *s);

#endif
