/* ctl-help.h - the help texts of hotloadctl and its commands */
#ifndef HOTLOAD_CTL_HELP_H
#define HOTLOAD_CTL_HELP_H

extern const char ctlhelp_general[];
extern const char ctlhelp_exec[];
extern const char ctlhelp_reload_modules[];
extern const char ctlhelp_recycle[];
extern const char ctlhelp_watch[];
extern const char ctlhelp_unwatch[];
extern const char ctlhelp_eval[];
extern const char ctlhelp_debug[];
extern const char ctlhelp_ping[];
extern const char ctlhelp_status[];
extern const char ctlhelp_start[];
extern const char ctlhelp_stop[];
extern const char ctlhelp_restart[];
extern const char ctlhelp_interrupt[];
extern const char ctlhelp_reload[];
extern const char ctlhelp_list[];
extern const char ctlhelp_logs[];
extern const char ctlhelp_kernelspec[];
extern const char ctlhelp_mcp[];
extern const char ctlhelp_help[];

#endif
