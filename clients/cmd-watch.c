/* cmd-watch.c - `hotloadctl watch` and `unwatch`: the directories whose
 * changes a target's workers reload */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "cmd.h"
#include "ctl-control.h"
#include "ctl.h"
#include "errfmt.h"

/* Have target watch (add) or stop watching dirs[0..n). */
static int
watch_dirs(const struct ctl_opts *o, const char *target, const char *const *dirs, int n, int add)
{
	struct ctlcontrol *cc = NULL;
	json_t *done = NULL, *list = json_array(), *req, *v;
	size_t i;
	int k, r;

	r = ctl_check_targets(&target, 1);
	for (k = 0; !r && k < n; k++) {
		/* the daemon needs real, absolute paths; a directory to unwatch may be gone */
		char *real = realpath(dirs[k], NULL);

		if (!real && add) {
			ctl_err("cannot watch %s: %s", dirs[k], strerror(errno));
			r = CTL_EXIT_USAGE;
			break;
		}
		if (!real && dirs[k][0] != '/') {
			ctl_err("%s: give an absolute path of a directory that is gone", dirs[k]);
			r = CTL_EXIT_USAGE;
			break;
		}
		json_array_append_new(list, json_string(real ? real : dirs[k]));
		free(real);
	}
	if (!r)
		r = ctlcontrol_open(o, 0, &cc);
	if (r) {
		json_decref(list);
		return r;
	}
	req = json_pack("{s:s, s:s, s:o}", "op", add ? "watch" : "unwatch", "target", target,
	                "dirs", list);
	r = ctlcontrol_call(cc, req, &done);
	json_decref(req);
	if (r)
		goto fail;
	if (!json_is_true(json_object_get(done, "ok"))) {
		struct buf msg = BUF_INIT;

		errfmt_summary(json_object_get(done, "error"), &msg);
		ctl_err("%s: %s", target, msg.data);
		r = ctl_error_exit(json_object_get(done, "error"));
		buf_free(&msg);
		goto fail;
	}
	if (!o->quiet) {
		struct buf line = BUF_INIT;

		buf_printf(&line, "%s: watching", ctl_str(done, "target", target));
		json_array_foreach(json_object_get(done, "watch"), i, v)
		{
			buf_printf(&line, "%s %s", i ? "," : "", json_string_value(v));
		}
		if (!json_array_size(json_object_get(done, "watch")))
			buf_puts(&line, " nothing");
		ctl_print(1, "%s\n", line.data);
		buf_free(&line);
	}
fail:
	json_decref(done);
	ctlcontrol_free(cc);
	return r;
}

/* watch / unwatch TARGET DIR... */
static int
watch_args(const struct ctl_opts *o, const struct cmd_args *a, int add)
{
	const char *cmd = add ? "watch" : "unwatch";

	if (a->npos < 2)
		return ctl_usage(cmd, "missing TARGET");
	if (a->npos < 3)
		return ctl_usage(cmd, "missing the directories");
	return watch_dirs(o, a->pos[1], a->pos + 2, a->npos - 2, add);
}

/* watch TARGET DIR... */
int
cmd_watch(const struct ctl_opts *o, const struct cmd_args *a)
{
	return watch_args(o, a, 1);
}

/* unwatch TARGET DIR... */
int
cmd_unwatch(const struct ctl_opts *o, const struct cmd_args *a)
{
	return watch_args(o, a, 0);
}
