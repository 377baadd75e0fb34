/* replay: `canal-es replay-dead-letters -c FILE DEADLETTERS` re-sends the
 * actions of a dead-letter file (after the mapping was fixed) and reports
 * how many were applied. */
#ifndef CE_REPLAY_H
#define CE_REPLAY_H

/* The whole command: argv[1] is "replay-dead-letters". Returns the exit code. */
int replay_main(int argc, char **argv);

#endif
