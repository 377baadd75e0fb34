/* cmd/cmdline: see cmdline.h. */
#include "cmd/cmdline.h"
#include "util/parse.h"

#include <stdio.h>
#include <string.h>

int cmd_usage(const cmd_spec *s, const char *msg, const char *arg)
{
    if (arg != NULL)
        ce_log_print(stderr, "canal-es %s: %s '%s'", s->name, msg, arg); /* arg escaped */
    else
        fprintf(stderr, "canal-es %s: %s\n", s->name, msg);
    fputs(s->usage != NULL ? s->usage : s->help, stderr);
    return CMD_USAGE;
}

static const cmd_opt *cmd_find(const cmd_spec *s, const char *name)
{
    for (const cmd_opt *o = s->opts; o != NULL && o->name != NULL; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

/* An option of the command's table at argv[*i]; CMD_GO_ON, or CMD_USAGE. */
static int cmd_take(const cmd_spec *s, const cmd_opt *o, int argc, char **argv, int *i)
{
    if (o->flag != NULL) {
        *o->flag = true;
        return CMD_GO_ON;
    }
    if (*i + 1 >= argc)
        return cmd_usage(s, "unexpected argument", argv[*i]); /* the value is missing */
    const char *v = argv[++*i];
    if (o->text != NULL) {
        *o->text = v;
        return CMD_GO_ON;
    }
    if (ce_parse_i64(v, o->min, o->max, o->num) != 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s needs %s %lld..%lld, not", o->name, o->what, (long long)o->min,
                 (long long)o->max);
        return cmd_usage(s, msg, v);
    }
    return CMD_GO_ON;
}

int cmd_parse(const cmd_spec *s, int argc, char **argv, cmd_args *a)
{
    bool opts = true;
    memset(a, 0, sizeof *a);
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        const cmd_opt *o = opts ? cmd_find(s, arg) : NULL;
        if (o != NULL) {
            int rc = cmd_take(s, o, argc, argv, &i);
            if (rc != CMD_GO_ON)
                return rc;
        } else if (opts && (strcmp(arg, "-c") == 0 || strcmp(arg, "--config") == 0) && i + 1 < argc) {
            a->config = argv[++i];
        } else if (opts && s->log_level && strcmp(arg, "--log-level") == 0 && i + 1 < argc) {
            ce_log_level lv;
            if (ce_log_parse_level(argv[++i], &lv) != 0)
                return cmd_usage(s, "unknown log level", argv[i]);
            ce_log_set_level(lv);
            a->level_given = true;
        } else if (opts && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)) {
            fputs(s->help, stdout);
            return CMD_OK;
        } else if (opts && s->operand != NULL && strcmp(arg, "--") == 0) {
            opts = false;
        } else if (s->operand == NULL || (opts && arg[0] == '-' && arg[1] != '\0')) {
            return cmd_usage(s, "unexpected argument", arg);
        } else if (a->operand != NULL) {
            char msg[300];
            snprintf(msg, sizeof msg, "one %s only, not also", s->operand);
            return cmd_usage(s, msg, arg);
        } else {
            a->operand = arg;
        }
    }
    if (a->config == NULL)
        return cmd_usage(s, "-c FILE is required", NULL);
    if (s->operand != NULL && a->operand == NULL) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s is required", s->operand);
        return cmd_usage(s, msg, NULL);
    }
    return CMD_GO_ON;
}

int cmd_load(const char *path, cfg *c)
{
    char why[1024];
    if (cfg_load(path, c, why, sizeof why) == 0)
        return 0;
    ce_log_print(stderr, "canal-es: %s", why); /* the file's text escaped */
    return CMD_USAGE;
}

int cmd_start(const cmd_spec *s, int argc, char **argv, cmd_args *a, cfg *c)
{
    int rc = cmd_parse(s, argc, argv, a);
    if (rc != CMD_GO_ON)
        return rc;
    return cmd_load(a->config, c) == 0 ? CMD_GO_ON : CMD_USAGE;
}

void cmd_apply_log(const cmd_args *a, const cfg *c)
{
    ce_log_level lv;
    if (!a->level_given && ce_log_parse_level(c->log.level, &lv) == 0)
        ce_log_set_level(lv);
    ce_log_set_format(strcmp(c->log.format, "json") == 0 ? CE_LOG_JSON : CE_LOG_TEXT);
}

int cmd_split_table(const char *spec, char db[CMD_NAME_MAX + 1], char table[CMD_NAME_MAX + 1])
{
    const char *dot = spec != NULL ? strchr(spec, '.') : NULL;
    if (dot == NULL || dot == spec || dot[1] == '\0' || (size_t)(dot - spec) > CMD_NAME_MAX ||
        strlen(dot + 1) > CMD_NAME_MAX)
        return -1;
    snprintf(db, CMD_NAME_MAX + 1, "%.*s", (int)(dot - spec), spec);
    snprintf(table, CMD_NAME_MAX + 1, "%s", dot + 1);
    return 0;
}
