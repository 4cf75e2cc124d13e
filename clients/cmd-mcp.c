/* cmd-mcp.c - `hotloadctl mcp`: the MCP server (mcp-*.c) with its options */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "ctl.h"
#include "mcp-server.h"

#define MCP_TARGETS_MAX 64

/* mcp [--targets T1,T2] [--max-timeout S] [--max-output BYTES] */
int
cmd_mcp(const struct ctl_opts *o, const struct cmd_args *a)
{
	const char *targets[MCP_TARGETS_MAX], *t = a->value[OPT_TARGETS];
	const char *mt = a->value[OPT_MAX_TIMEOUT], *mo = a->value[OPT_MAX_OUTPUT];
	struct mcp_config cfg;
	char *list = NULL, *tok, *save = NULL, *end;
	int r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.socket = o->socket;
	cfg.tcp = o->tcp;
	cfg.token = o->token;
	cfg.max_timeout = MCP_DEFAULT_MAX_TIMEOUT;
	cfg.max_output = MCP_DEFAULT_MAX_OUTPUT;
	if (a->npos > 1)
		return ctl_usage("mcp", "unexpected argument '%s'", a->pos[1]);
	if (mt) {
		errno = 0;
		cfg.max_timeout = strtod(mt, &end);
		if (errno || end == mt || *end || !(cfg.max_timeout > 0 && cfg.max_timeout <= 1e9))
			return ctl_usage("mcp", "--max-timeout wants seconds above 0, not '%s'",
			                 mt);
	}
	if (mo) {
		unsigned long long n;

		errno = 0;
		n = strtoull(mo, &end, 10);
		if (errno || end == mo || *end || mo[0] == '-' || n < 1 || n > (1ull << 30))
			return ctl_usage("mcp",
			                 "--max-output wants bytes, 1 to 1073741824, not '%s'", mo);
		cfg.max_output = (size_t)n;
	}
	if (t) {
		list = xstrdup(t);
		for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (cfg.ntargets == MCP_TARGETS_MAX) {
				free(list);
				return ctl_usage("mcp", "--targets takes at most %d targets",
				                 MCP_TARGETS_MAX);
			}
			if (ctl_check_target(tok)) {
				free(list);
				return CTL_EXIT_USAGE;
			}
			targets[cfg.ntargets++] = tok;
		}
		if (!cfg.ntargets) {
			free(list);
			return ctl_usage("mcp", "--targets wants a list such as python:3,blender");
		}
		cfg.targets = targets;
	}
	if (isatty(STDIN_FILENO))
		ctl_msg(o, "mcp: serving MCP on stdin/stdout; an MCP client starts this command "
		           "(see docs/agents.md). Ctrl-D ends it.");
	r = mcp_serve(&cfg, STDIN_FILENO, STDOUT_FILENO);
	free(list);
	if (r < 0) {
		ctl_err("mcp: cannot write to standard output: %s", strerror(-r));
		return CTL_EXIT_FAILED;
	}
	return CTL_EXIT_OK;
}
