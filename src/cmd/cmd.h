/* cmd: the subcommands of canal-es, one file each in src/cmd/ (main.c
 * dispatches on argv[1]). Each takes the whole argv (argv[1] is its name)
 * and returns the exit code (cmdline.h). */
#ifndef CE_CMD_CMD_H
#define CE_CMD_CMD_H

int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_mapping(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_reindex(int argc, char **argv);
int cmd_verify(int argc, char **argv);

#endif
