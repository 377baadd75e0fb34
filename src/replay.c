/* replay: re-sending dead letters (not written yet). */
#include "replay.h"

#include <stdio.h>

int replay_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("canal-es replay-dead-letters: not implemented yet\n", stderr);
    return 2;
}
