/* mcp-server.h - hotloadctl's MCP server: JSON-RPC over stdin/stdout, the
 * MCP lifecycle, and the daemon connections its tools run requests on */
#ifndef HOTLOAD_MCP_SERVER_H
#define HOTLOAD_MCP_SERVER_H

#include <jansson.h>
#include <stddef.h>

struct mcp_server;

#define MCP_DEFAULT_MAX_TIMEOUT 60.0       /* seconds */
#define MCP_DEFAULT_MAX_OUTPUT (64u << 10) /* bytes per stream */

/* What `hotloadctl mcp` was told. */
struct mcp_config {
	const char *socket;         /* the daemon's Unix socket, or NULL */
	const char *tcp;            /* or "host:port" */
	const char *token;          /* over TCP, NULL: none */
	const char *const *targets; /* --targets: the only ones usable; ntargets 0: any */
	size_t ntargets;
	double max_timeout; /* a tool call's timeout: the default and the cap */
	size_t max_output;  /* bytes kept per output stream of a call */
};

/* Serve MCP on in_fd/out_fd until in_fd ends. Returns 0, or -errno when
 * out_fd failed (the client went away). */
int mcp_serve(const struct mcp_config *cfg, int in_fd, int out_fd);

/* For the tools (mcp-tools.c). */

const struct mcp_config *mcpserver_config(const struct mcp_server *s);

/* Called with each event of a request but its done: stdout, stderr,
 * waiting, reloaded. */
typedef void (*mcpserver_event_cb)(json_t *event, void *userdata);

/* Run req (op exec, eval, reload) on a connection to target, reading the
 * MCP client meanwhile: a ping is answered, a cancellation of the running
 * call interrupts the request, a progress token gets notifications.
 * wait_s: how long to wait for its done at most. Returns 0 with the done
 * in *ret_done (the caller's); else -errno with why in reterr. */
int mcpserver_request(struct mcp_server *s, const char *target, json_t *req, double wait_s,
                      mcpserver_event_cb cb, void *userdata, json_t **ret_done, char *reterr,
                      size_t reterrlen);

/* Run a control op req on the control target: 0 with its done in
 * *ret_done, or -errno with why in reterr. */
int mcpserver_control(struct mcp_server *s, json_t *req, json_t **ret_done, char *reterr,
                      size_t reterrlen);

/* Whether the running call was cancelled by the client. */
int mcpserver_cancelled(const struct mcp_server *s);

#endif
