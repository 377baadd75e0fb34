/* check: `canal-es check-config -c FILE` validates the configuration and
 * tries every connection it names: the Canal server (authentication,
 * destination, subscribe), the search node (credentials, distribution and
 * version) and each rule's index or alias (exists, or will be created).
 * One verdict line per item ("ok", "warn", "FAIL"); exit 0 only when no
 * item failed. */
#ifndef CE_CHECK_H
#define CE_CHECK_H

/* The whole command: argv[1] is "check-config". Returns the exit code. */
int check_main(int argc, char **argv);

#endif
