/* mcp-tools.h - the tools hotloadctl's MCP server offers: their schemas
 * and what a call of each does through the daemon */
#ifndef HOTLOAD_MCP_TOOLS_H
#define HOTLOAD_MCP_TOOLS_H

#include <jansson.h>

struct mcp_config;
struct mcp_server;

/* The "tools" array of a tools/list answer (the caller's reference): each
 * with name, title, description, inputSchema and outputSchema; under
 * --targets the target properties list the allowed ones. */
json_t *mcptools_list(const struct mcp_config *cfg);

/* Call the tool called name with args (an object, or NULL). Returns 0
 * with a CallToolResult in *ret_result (the caller's): structuredContent,
 * a text item, isError when the tool failed. -ENOENT when there is no
 * such tool. */
int mcptools_call(struct mcp_server *s, const char *name, json_t *args, json_t **ret_result);

#endif
