/*
 * pickup.h - relay-agent's pickup of the maildrop (spool_dir/maildrop/,
 * where sendmail leaves mail when the submission socket cannot be
 * reached).
 */
#ifndef PICKUP_H
#define PICKUP_H

#include "config.h"

/*
 * pickup_run - feed every file of the maildrop to smtp-session -U as a
 * local submission on behalf of the file's owner, and act on its replies
 * (see pickup.c). With AGAIN, list the maildrop again after each round
 * while new files came, up to PICKUP_ROUNDS_MAX rounds (relay-agent -p,
 * started by smtp-pickup.path). Returns the number of files handled.
 */
int pickup_run(const struct config *cf, int again);

#endif
