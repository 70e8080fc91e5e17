/*
 * control.h - the daemon's control socket: a Unix stream socket that takes
 * one request line ("now", "status", "status json", "cancel") per connection
 * and answers "OK" or "ERR <exit code> <message>", then the reply body.
 * Only root and the daemon's own uid may talk to it (SO_PEERCRED, checked
 * before a byte is read).  A request must be complete within
 * PF_CONTROL_REQUEST_SECS of connecting; one that is not, or holds a NUL or
 * other control byte, or is too long, gets one "ERR" line at once and is
 * not acted on.  Clients are served side by side, none waiting for another.
 */
#ifndef PF_CONTROL_H
#define PF_CONTROL_H

#include <stdio.h>
#include <sys/un.h>

#include <systemd/sd-event.h>

#include "util.h"

#define PF_CONTROL_REQUEST_MAX 256
#define PF_CONTROL_REPLY_MAX (1024 * 1024)
#define PF_CONTROL_REQUEST_SECS "2"
#define PF_CONTROL_REQUEST_USEC (2 * 1000000ULL)
/* A reply not taken by the client within this is dropped. */
#define PF_CONTROL_REPLY_USEC (10 * 1000000ULL)
#define PF_CONTROL_CLIENTS_MAX 16

/* Handle one request.  verb is the first word, arg the rest (may be "").
 * Writes the reply body to out; returns 0, or -errno with e set (its
 * exit_code is what the client will exit with). */
typedef int (*pf_control_handler)(void *userdata, const char *verb, const char *arg, FILE *out,
				  pf_err *e);

/* Create the listening socket at path (its directory made 0755 if missing,
 * a stale socket replaced, the socket itself 0600); anything but a socket
 * already at path is refused and left alone.  Returns the fd or -errno. */
int control_listen(const char *path, pf_err *e);

/* Told one line for the log about a refused or dropped client. */
typedef void (*pf_control_log)(void *userdata, const char *msg);

typedef struct pf_control pf_control;

/*
 * Serve the listening socket lfd (control_listen) from event: each client
 * gets its own IO source and deadline timer there, and handler runs once a
 * request line is complete.  log (may be NULL) hears of refusals.  The
 * caller frees *ret with control_server_free, and closes lfd after.
 * Returns 0 or -errno.
 */
int control_server_new(sd_event *event, int lfd, pf_control_handler handler, pf_control_log log,
		       void *userdata, pf_control **ret, pf_err *e);

/* Drop every client and stop watching the socket; returns NULL. */
pf_control *control_server_free(pf_control *srv);

/* Fill *ret with the address of the socket at path.  Returns 0, or -errno
 * with e set when path does not fit. */
int control_sockaddr(const char *path, struct sockaddr_un *ret, pf_err *e);

/*
 * Client: send request to the daemon at path.  On a reply, *ret_exit is the
 * daemon's exit code and *ret_body its body (caller frees) and 0 is
 * returned; -ENOENT or -ECONNREFUSED mean no daemon is listening.
 */
int control_request(const char *path, const char *request, int timeout_ms, int *ret_exit,
		    char **ret_body, pf_err *e);

/* The same, for a request a busy daemon may answer late (one of its steps
 * can hold its event loop for a DNS update's retries or a reload): after
 * note_ms without an answer, busy_note is printed on stderr, once, and
 * the wait goes on to timeout_ms.  A caught signal ends it (-EINTR). */
int control_request_patient(const char *path, const char *request, int timeout_ms, int note_ms,
			    const char *busy_note, int *ret_exit, char **ret_body, pf_err *e);

#endif
