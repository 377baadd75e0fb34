/* cmd/cmdline: what every subcommand of canal-es shares, so each command
 * file holds only its own options and work: the table of its options
 * (-c/--config, --log-level and -h/--help come with every command), the one
 * form of a usage error ("canal-es CMD: why 'ARG'" and the command's usage
 * on stderr, exit 2), loading the configuration (cfg_load validates it;
 * errors name FILE:LINE), applying its [log] settings, and DB.TABLE
 * arguments. Exit codes of every command: 0 done, 1 runtime failure,
 * 2 usage or configuration error (verify adds 3, see verify.h). */
#ifndef CE_CMD_CMDLINE_H
#define CE_CMD_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "util/log.h"

enum { CMD_OK = 0, CMD_FAILED = 1, CMD_USAGE = 2 };
#define CMD_GO_ON (-1) /* cmd_parse: the arguments are fine, run the command */

/* One option of a command: a flag (flag set), an option with a text value
 * (text set) or with a number in [min, max] (num set; a value out of range
 * is a usage error "NAME needs WHAT MIN..MAX, not 'X'"). */
typedef struct cmd_opt {
    const char *name; /* "--table" */
    bool *flag;
    const char **text;
    int64_t *num;
    int64_t min, max;
    const char *what; /* "seconds", "a number" */
} cmd_opt;

typedef struct cmd_spec {
    const char *name;    /* "verify": messages start with "canal-es verify: " */
    const char *help;    /* --help, on stdout */
    const char *usage;   /* on stderr after a usage error; NULL: help */
    const cmd_opt *opts; /* the command's own options, ending with {0}; NULL: none */
    bool log_level;      /* takes --log-level LEVEL (set at once, see cmd_args) */
    const char *operand; /* the name of its one operand ("DEADLETTER_FILE"), which may follow "--"; NULL: none */
} cmd_spec;

typedef struct cmd_args {
    const char *config;  /* -c FILE (required) */
    const char *operand; /* required when the spec names one */
    bool level_given;    /* --log-level was given (and is in effect) */
} cmd_args;

/* argv[2..argc) of command s. CMD_GO_ON; CMD_OK after --help; CMD_USAGE
 * after a usage error was printed. */
int cmd_parse(const cmd_spec *s, int argc, char **argv, cmd_args *a);
/* Prints "canal-es NAME: msg" (with " 'arg'", escaped, when arg is set) and
 * the usage on stderr. Returns CMD_USAGE. */
int cmd_usage(const cmd_spec *s, const char *msg, const char *arg);
/* cfg_load(path): 0, or CMD_USAGE with "canal-es: FILE:LINE: why" on stderr. */
int cmd_load(const char *path, cfg *c);
/* cmd_parse, then cmd_load of -c FILE into c, for a command with nothing
 * to check in between: CMD_GO_ON with c loaded (the caller frees it), or
 * the exit code. */
int cmd_start(const cmd_spec *s, int argc, char **argv, cmd_args *a, cfg *c);
/* [log] level (unless --log-level was given) and format, for a command
 * that logs without the service. */
void cmd_apply_log(const cmd_args *a, const cfg *c);
/* "DB.TABLE" into db and table: both parts non-empty and at most
 * CMD_NAME_MAX bytes. 0, or -1. */
#define CMD_NAME_MAX 256
int cmd_split_table(const char *spec, char db[CMD_NAME_MAX + 1], char table[CMD_NAME_MAX + 1]);

#endif
