/*
 * command.h - running an operator's command (certificate_command, SPEC.md
 * 8) without a shell, with a deadline and nothing of ours inherited: argv
 * split as Postfix splits a list (commas and/or white space, no quoting),
 * environment PATH=PF_CMD_PATH and the PFTLS_* variables given, stdin and
 * stdout /dev/null, stderr read (bounded) for its last non-empty line,
 * every other descriptor closed, signal mask and dispositions reset, its
 * own process group.
 */
#ifndef PF_COMMAND_H
#define PF_COMMAND_H

#include <stdint.h>

#include "util.h"

#define PF_CMD_PATH "/usr/sbin:/usr/bin:/sbin:/bin"
#define PF_CMD_LINE_MAX 200       /* octets of stderr's last line kept */
#define PF_CMD_KILL_GRACE_MS 2000 /* SIGTERM to SIGKILL, at the deadline */
#define PF_CMD_LINGER_MS 500      /* after the command exits, for stderr's EOF */

enum pf_cmd_outcome {
	PF_CMD_NOT_STARTED, /* empty command, or exec failed (status: errno) */
	PF_CMD_EXITED,      /* status: exit status */
	PF_CMD_SIGNALED,    /* status: the signal that ended it */
	PF_CMD_TIMED_OUT,   /* the deadline passed; its process group was stopped */
};

typedef struct pf_cmd_result {
	enum pf_cmd_outcome outcome;
	int status;
	char last_line[PF_CMD_LINE_MAX + 1]; /* printable ASCII, "" when none */
	uint64_t elapsed_ms;
} pf_cmd_result;

/*
 * Run command (a list, as in the configuration) with the environment
 * PATH=PF_CMD_PATH plus env (a NULL-terminated list of "PFTLS_NAME=value";
 * another name is refused, -EINVAL, nothing run).  A bare program name is
 * looked up in PF_CMD_PATH.  At timeout_ms its process group gets SIGTERM,
 * PF_CMD_KILL_GRACE_MS later SIGKILL (one that even SIGKILL does not end
 * within two more grace periods is left unreaped rather than waited for).
 * Once the command has exited, what is left of its process group is
 * killed (SIGKILL) and stderr is read for at most PF_CMD_LINGER_MS more, so
 * a grandchild holding the pipe cannot hold us.  what names the command in messages
 * ("certificate_command").
 *
 * *ret is always filled.  Returns 0 when the command exited with status 0;
 * otherwise -errno and one line in e: "WHAT (PROG) exited with status 3:
 * LAST LINE", "... was killed by signal 9 (Killed)", "... did not finish
 * within 1 s: stopped", "WHAT: cannot run PROG: ...".
 *
 * The caller must not reap children with waitpid(-1) meanwhile; the
 * command's pid is waited for by pid.
 */
int command_run(const char *what, const char *command, const char *const *env, uint64_t timeout_ms,
		pf_cmd_result *ret, pf_err *e);

#endif
