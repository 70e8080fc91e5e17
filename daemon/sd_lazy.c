/*
 * sd_lazy.c - loads libsystemd's journal and D-Bus client functions on
 * first use (see sd_lazy.h); owns the one dlopen handle, kept for the
 * process's lifetime.
 */
#include "sd_lazy.h"

#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"

/* Each entry of pf_sd_api and the symbol that fills it. */
static const struct {
	const char *symbol;
	size_t offset;
} symbols[] = {
#define SYM(field, name)                                                                           \
	{                                                                                          \
		name, offsetof(pf_sd_api, field)                                                   \
	}
	SYM(journal_sendv_with_location, "sd_journal_sendv_with_location"),
	SYM(bus_open_system, "sd_bus_open_system"),
	SYM(bus_match_signal, "sd_bus_match_signal"),
	SYM(bus_call_method, "sd_bus_call_method"),
	SYM(bus_message_read, "sd_bus_message_read"),
	SYM(bus_process, "sd_bus_process"),
	SYM(bus_wait, "sd_bus_wait"),
	SYM(bus_error_free, "sd_bus_error_free"),
	SYM(bus_message_unref, "sd_bus_message_unref"),
	SYM(bus_slot_unref, "sd_bus_slot_unref"),
	SYM(bus_flush_close_unref, "sd_bus_flush_close_unref"),
#undef SYM
};

static pf_sd_api api;
static enum { NOT_TRIED, LOADED, MISSING } load_state;
static char why[256]; /* why it is MISSING */

/* Open the library and fill api.  Returns 0, or -ENOENT with why set. */
static int load(void)
{
	void *h = dlopen(PF_SD_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	const char *err;

	if (!h) {
		err = dlerror();
		snprintf(why, sizeof(why), "cannot load %s: %.200s", PF_SD_LIBRARY,
			 err ? err : "unknown error");
		return -ENOENT;
	}
	for (size_t i = 0; i < PF_ELEMENTSOF(symbols); i++) {
		void *f = dlsym(h, symbols[i].symbol);

		if (!f) {
			snprintf(why, sizeof(why), "%s has no %s", PF_SD_LIBRARY,
				 symbols[i].symbol);
			memset(&api, 0, sizeof(api));
			dlclose(h);
			return -ENOENT;
		}
		/* POSIX guarantees a dlsym result converts to a function
		 * pointer; the table's slots are all function pointers. */
		memcpy((char *)&api + symbols[i].offset, &f, sizeof(f));
	}
	return 0;
}

const pf_sd_api *pf_sd_api_get(pf_err *e)
{
	if (load_state == NOT_TRIED)
		load_state = load() < 0 ? MISSING : LOADED;
	if (load_state == MISSING) {
		pf_err_set(e, ENOENT, "%s", why);
		return NULL;
	}
	return &api;
}
