/*
 * sd_lazy.h - the few libsystemd functions outside the daemon's event loop
 * (the journal's sendv and the D-Bus client of a reload through systemd),
 * loaded on first use with dlopen("libsystemd.so.0").  pftls-roll then
 * links no libsystemd: a subcommand that logs no journal event and reloads
 * nothing never loads it, nor what it pulls in (libgcrypt, liblzma,
 * libzstd, liblz4, libcap).  pftls-rolld links libsystemd for sd-event and
 * sd_notify and goes through here too, one path for both: its dlopen finds
 * the library already loaded.
 *
 * The function types are those of libsystemd's own headers (__typeof__),
 * so a call through the table is checked as a direct call would be.
 */
#ifndef PF_SD_LAZY_H
#define PF_SD_LAZY_H

#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>

#include "util.h"

#define PF_SD_LIBRARY "libsystemd.so.0"

typedef struct pf_sd_api {
	__typeof__(sd_journal_sendv_with_location) *journal_sendv_with_location;
	__typeof__(sd_bus_open_system) *bus_open_system;
	__typeof__(sd_bus_match_signal) *bus_match_signal;
	__typeof__(sd_bus_call_method) *bus_call_method;
	__typeof__(sd_bus_message_read) *bus_message_read;
	__typeof__(sd_bus_process) *bus_process;
	__typeof__(sd_bus_wait) *bus_wait;
	__typeof__(sd_bus_error_free) *bus_error_free;
	__typeof__(sd_bus_message_unref) *bus_message_unref;
	__typeof__(sd_bus_slot_unref) *bus_slot_unref;
	__typeof__(sd_bus_flush_close_unref) *bus_flush_close_unref;
} pf_sd_api;

/* The table, every entry set; libsystemd is loaded and its symbols
 * resolved on the first call only.  Returns NULL with e saying why (the
 * library or one of its functions missing) when it cannot be had; every
 * later call gives the same answer. */
const pf_sd_api *pf_sd_api_get(pf_err *e);

#endif
