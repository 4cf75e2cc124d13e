/* ctl-help.c - the help texts of hotloadctl and its commands
 *
 * Kept apart from the option parsing so that both stay readable; the
 * manual (docs/hotloadctl.md) says the same at more length. */
#include "ctl-help.h"
#include "proto.h"

const char ctlhelp_general[] =
        "Usage: hotloadctl [OPTIONS] COMMAND [ARGS]\n"
        "\n"
        "Run Python code in the warm DCC interpreters that hotloadd keeps, and\n"
        "manage the daemon and its workers.\n"
        "\n"
        "Commands:\n"
        "  exec TARGET (-c CODE | FILE | -)  run code, streaming its output\n"
        "  eval TARGET EXPR                  evaluate an expression, print its repr\n"
        "  ping TARGET                       check that a worker of TARGET answers\n"
        "  status [TARGET]                   show the daemon's targets and workers\n"
        "  start [TARGET...]                 start workers, or the daemon itself\n"
        "  stop [TARGET...]                  stop workers, or the daemon itself\n"
        "  restart [TARGET...]               restart workers, or the daemon itself\n"
        "  interrupt TARGET...               KeyboardInterrupt in running requests\n"
        "  reload                            re-read the configuration and hooks\n"
        "  reload-modules TARGET MODULE...   reload edited modules in a warm worker\n"
        "  watch TARGET DIR...               reload what changes under DIR, by itself\n"
        "  unwatch TARGET DIR...             stop watching DIR\n"
        "  recycle TARGET...                 replace workers with fresh ones\n"
        "  list                              the hooks and the installs they find\n"
        "  logs TARGET                       recent output of TARGET's workers\n"
        "  mcp                               an MCP server on stdin/stdout, for AI agents\n"
        "  help [COMMAND]                    show help for a command\n"
        "\n"
        "TARGET is DCC[:VERSION]: python:3, mayapy:2024, hython:20.5, blender, ...\n"
        "\n"
        "Options (for every command):\n"
        "  --socket PATH    the daemon's Unix socket (or $HOTLOAD_SOCKET); default\n"
        "                   $XDG_RUNTIME_DIR/hotload/hotloadd.sock, else\n"
        "                   /run/hotload/hotloadd.sock for root and\n"
        "                   /tmp/hotload-UID/hotloadd.sock for others\n"
        "  --tcp HOST:PORT  connect over TCP instead (or $HOTLOAD_TCP); "
        "port " HOTLOAD_DEFAULT_PORT_STR " when\n"
        "                   left out, host " HOTLOAD_DEFAULT_HOST " when empty\n"
        "  --token-file FILE  over TCP, show the daemon's token read from FILE (or\n"
        "                   $HOTLOAD_TOKEN): for a daemon with 'listen: token: required'\n"
        "  -q, --quiet      print no messages of hotloadctl's own (the code's output,\n"
        "                   tracebacks and the reasons of failures are still shown)\n"
        "  -h, --help       show help ('hotloadctl COMMAND --help' for a command's)\n"
        "      --version    print the version\n"
        "\n"
        "Exit status:\n"
        "  0    success\n"
        "  1    the code raised, its worker died or did not start, a target failed\n"
        "  2    usage error, or the input could not be read\n"
        "  3    hotloadd is not reachable, the connection was lost, or the socket's\n"
        "       directory is not safe (not yours, not 0700, a symlink)\n"
        "  4    hotloadd refused: unknown target, DCC not installed, bad header, ...\n"
        "  130  exec/eval/ping: interrupted with Ctrl-C\n";

const char ctlhelp_exec[] =
        "Run Python code in a worker of TARGET. Its stdout and stderr are copied to\n"
        "ours as it prints; if it raises, the traceback goes to stderr.\n"
        "\n"
        "  -c, --code CODE   the code to run\n"
        "  FILE              run this file as python FILE would: __file__, its\n"
        "                    directory on sys.path, our working directory; '-'\n"
        "                    reads the code from stdin\n"
        "  ARG...            sys.argv[1:] (put -- before them if they look like\n"
        "                    options)\n"
        "      --file NAME   the file name tracebacks show (default: FILE's full\n"
        "                    path, <stdin> or <string>)\n"
        "      --fresh       run in a fresh namespace instead of the shared __main__\n"
        "      --timeout S   wait at most S seconds in all, a busy worker's queue\n"
        "                    included, and let it run at most that: then\n"
        "                    KeyboardInterrupt, and if that does not stop it, the\n"
        "                    worker is killed (default: the hook's request_timeout)\n"
        "      --json        print the daemon's event lines (JSON) as they arrive\n"
        "      --watch[=DIR] run again each time a .py file under DIR (default:\n"
        "                    FILE's directory; -c needs =DIR) is saved, each run\n"
        "                    under a header line on stderr; a run still going is\n"
        "                    interrupted first; the target reloads the modules it\n"
        "                    imported from DIR; Ctrl-C ends it\n"
        "\n"
        "Ctrl-C interrupts the code (KeyboardInterrupt in it; the worker stays\n"
        "warm); a second Ctrl-C stops waiting for it. SIGTERM and SIGHUP interrupt\n"
        "it too, then end hotloadctl at once (exit 143, 129). While the worker\n"
        "starts, a terminal shows a spinner on stderr.\n"
        "\n"
        "Exit status: 0 it ran to its end; 1 it raised, or its worker died or did\n"
        "not start; 2 usage; 3 no daemon; 4 refused (unknown target, not\n"
        "installed); 130 interrupted with Ctrl-C; 143, 129 interrupted by SIGTERM,\n"
        "SIGHUP.\n"
        "\n"
        "Examples:\n"
        "  hotloadctl exec python:3 -c 'print(42)'\n"
        "  hotloadctl exec mayapy:2024 tools/rebuild_rig.py\n"
        "  echo 'import hou; print(hou.applicationVersionString())' | hotloadctl exec hython -\n";

const char ctlhelp_eval[] =
        "Evaluate a Python expression in a worker of TARGET and print the repr of\n"
        "its value. An expression starting with '-' goes after '--'.\n"
        "\n"
        "      --timeout S  let it run at most S seconds\n"
        "      --json       print the daemon's event lines (JSON) as they arrive\n"
        "\n"
        "Exit status as for exec: 0, 1 it raised, 2, 3, 4, 130 Ctrl-C.\n"
        "\n"
        "Example:\n"
        "  hotloadctl eval blender:4.1 'bpy.app.version_string'\n";

const char ctlhelp_ping[] =
        "Check that a worker of TARGET answers (it is started when none runs).\n"
        "Prints 'TARGET: ok (0.3 ms)'.\n"
        "\n"
        "      --json  print the daemon's event lines (JSON) as they arrive\n"
        "\n"
        "Exit status: 0 it answered; 1 its worker did not start; 3 no daemon;\n"
        "4 refused.\n";

const char ctlhelp_status[] =
        "Show the daemon (version, pid, uptime) and a table with one row per\n"
        "worker, or per target without workers: TARGET, WORKER id, STATE, PID,\n"
        "UPTIME, REQUESTS served, RSS (MiB), QUEUE (requests waiting), RESTARTS\n"
        "and LAST EXIT of the target. STATE is the worker's (starting, idle, busy,\n"
        "interrupting, stopping), or the target's when it is backoff or failed,\n"
        "or stopped for a target without workers. Why a target failed or backs\n"
        "off is said below the table.\n"
        "\n"
        "  TARGET  only this target: DCC or DCC:VERSION, aliases allowed\n"
        "  --json  print the daemon's status object as JSON (see docs/protocol.md)\n"
        "\n"
        "Exit status: 0 all is well; 1 a target shown has failed; 3 the daemon is\n"
        "not running; 4 TARGET names no known DCC.\n";

const char ctlhelp_start[] =
        "With targets: start a worker of each (clearing a failed or backoff state)\n"
        "and wait until each has a ready worker, or did not start.\n"
        "\n"
        "Without targets: start hotloadd unless it already runs. When a systemd\n"
        "user unit hotloadd.service is installed (and you are not root, and\n"
        "HOTLOAD_CONFIG is unset), through 'systemctl --user start hotloadd.socket\n"
        "hotloadd.service'; else hotloadd (next to hotloadctl, else on PATH) is run\n"
        "in the background with its output in hotloadd.log next to the default\n"
        "socket, and --config $HOTLOAD_CONFIG when that is set. Then wait until it\n"
        "answers.\n"
        "\n"
        "      --no-wait    return once the daemon has the request (targets only)\n"
        "      --timeout S  wait at most S seconds (default: 300 for targets, 10\n"
        "                   for the daemon)\n"
        "\n"
        "A terminal shows a spinner on stderr while it waits. Prints 'TARGET: ready\n"
        "(worker ID, pid PID)' per target, or 'hotloadd started (pid PID),\n"
        "listening on ...'.\n"
        "\n"
        "Exit status: 0 all ready (or the daemon runs); 1 a target did not start\n"
        "(the reason is said), or the daemon did not; 3 no daemon (targets);\n"
        "4 a target was refused.\n"
        "\n"
        "Examples:\n"
        "  hotloadctl start\n"
        "  hotloadctl start mayapy:2024 hython:20.5\n";

const char ctlhelp_stop[] =
        "With targets: stop their workers gracefully (the hook's uninitialize\n"
        "runs; a running request finishes first) and wait until they have exited.\n"
        "They start again on demand.\n"
        "\n"
        "Without targets: shut hotloadd down (its workers stop the same way) and\n"
        "wait until it has exited; 'systemctl --user stop' when its user unit runs\n"
        "it.\n"
        "\n"
        "      --no-wait    do not wait\n"
        "      --timeout S  wait at most S seconds (default 30)\n"
        "\n"
        "Exit status: 0 stopped (or the daemon was not running); 1 still running\n"
        "after the timeout; 3 no daemon (targets); 4 a target was refused.\n";

const char ctlhelp_restart[] =
        "With targets: stop their workers and start new ones, then wait as start\n"
        "does. Without targets: stop hotloadd and start it again.\n"
        "\n"
        "      --no-wait    do not wait for the new workers (targets only)\n"
        "      --timeout S  wait at most S seconds for each step\n"
        "\n"
        "Exit status as for start.\n";

const char ctlhelp_interrupt[] =
        "Send KeyboardInterrupt to the requests running in TARGET's workers,\n"
        "whoever sent them; the workers stay warm. Prints 'TARGET: interrupted N\n"
        "request(s)', or says 'nothing was running' on stderr.\n"
        "\n"
        "Exit status: 0 (also when nothing was running); 3 no daemon; 4 refused.\n";

const char ctlhelp_reload_modules[] =
        "Reload modules in a worker of TARGET: each MODULE is a module or a\n"
        "package with everything below it (mytools is mytools and mytools.*).\n"
        "The ones whose files changed are run again, in the order they import\n"
        "each other, and patched in place, so functions, classes and instances\n"
        "the DCC already holds run the new code; with --purge they are only\n"
        "forgotten, and the next import runs them afresh. Prints 'MODULE: STATUS'\n"
        "per module: reloaded, unchanged, purged, deleted, or failed with the\n"
        "traceback (the old module stays in use).\n"
        "\n"
        "      --purge       forget the modules instead of reloading them\n"
        "      --timeout S   wait at most S seconds\n"
        "\n"
        "Exit status: 0 all reloaded; 1 a module failed; 3 no daemon; 4 refused.\n";

const char ctlhelp_recycle[] =
        "Replace TARGET's workers with fresh ones, for what a reload cannot fix.\n"
        "Each old worker finishes the request it runs, then stops (its teardown\n"
        "runs). A target with min_workers starts the replacements at once, so\n"
        "nobody waits for a DCC to start; otherwise the next request starts one.\n"
        "\n"
        "Exit status: 0; 3 no daemon; 4 refused.\n";

const char ctlhelp_watch[] =
        "Watch DIR (and every directory below it) for saved Python files: before\n"
        "its next request, each worker of TARGET reloads the modules that changed.\n"
        "Prints what TARGET watches now. Hook files set watch roots with 'watch:'.\n"
        "\n"
        "Exit status: 0; 2 DIR does not exist; 3 no daemon; 4 refused (DIR is not\n"
        "a directory, or TARGET is unknown).\n";

const char ctlhelp_unwatch[] = "Stop watching DIR for TARGET. Prints what TARGET still watches.\n"
                               "\n"
                               "Exit status: 0; 3 no daemon; 4 refused or DIR was not watched.\n";

const char ctlhelp_reload[] =
        "Have hotloadd re-read hotloadd.yaml and the hook files. Targets whose\n"
        "hook changed get new workers; the old ones finish their requests first.\n"
        "A bad configuration is reported and the running one is kept.\n"
        "\n"
        "Exit status: 0 reloaded; 1 the configuration is invalid (the message\n"
        "says where); 3 no daemon.\n";

const char ctlhelp_list[] =
        "List the hooks hotloadd knows: name, aliases, default version, each\n"
        "installed version with its interpreter's path (newest first), and the\n"
        "hook's source file.\n"
        "\n"
        "      --json  print the daemon's hooks array as JSON\n"
        "\n"
        "Exit status: 0; 3 no daemon.\n";

const char ctlhelp_logs[] =
        "Print the recent output of TARGET's workers (the daemon keeps about the\n"
        "last 64 KiB per target), of requests and between them. On a terminal\n"
        "each line starts with the time, the worker's pid and the stream; in a\n"
        "pipe the output is printed as it was written.\n"
        "\n"
        "  -n, --lines N  the last N lines (default 200; 0: all there is)\n"
        "      --json     print the daemon's logs array, [{time, pid, stream,\n"
        "                 data}]; -n then counts its entries\n"
        "\n"
        "Exit status: 0; 3 no daemon; 4 unknown target.\n";

const char ctlhelp_mcp[] =
        "Serve the Model Context Protocol on stdin and stdout, for an AI agent\n"
        "(Claude Desktop, Claude Code, VS Code, Cursor, ...) that starts this\n"
        "command: newline-delimited JSON-RPC 2.0, nothing else on stdout;\n"
        "messages of its own go to stderr. Its tools list the targets, run and\n"
        "evaluate Python in them, interrupt, reload modules, restart workers,\n"
        "and show status and worker logs; docs/agents.md has the set-up for\n"
        "each client. Every call is in the daemon's log under the name the\n"
        "MCP client gives in initialize. It listens on no network port.\n"
        "\n"
        "  --targets T1,T2    the only targets its tools may use (exact names, as\n"
        "                     given: python:3,blender); default: any\n"
        "  --max-timeout S    seconds a call's code may run: the default timeout\n"
        "                     and its cap (default 60)\n"
        "  --max-output BYTES bytes of stdout and of stderr kept per call; the rest\n"
        "                     is cut with a note saying how much (default 65536)\n"
        "\n"
        "Exit status: 0 when stdin ends or a signal stops it; 1 stdout failed;\n"
        "2 bad options.\n";

const char ctlhelp_help[] = "Show the help of COMMAND, or the general help.\n";
