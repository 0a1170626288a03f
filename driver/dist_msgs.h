/* dist_msgs.h - the messages of the processes other than rank 0 while a
 * data-parallel run sets up (driver/cmd_train.c): held in a file, so that
 * a mistake every process makes (a bad setting, a missing file) is said
 * once, by rank 0, and one that only this process makes is still shown. */
#ifndef RNNC_DIST_MSGS_H
#define RNNC_DIST_MSGS_H

/* From now on stderr goes to a temporary file.  Returns 0, or -1 (then
 * stderr is left as it is). */
int dist_msgs_hold(void);
/* stderr back as it was; with show, what was held is written to it first.
 * Does nothing when nothing is held. */
void dist_msgs_release(int show);

#endif
