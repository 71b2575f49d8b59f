/*
 * A worker process: owns the runs the supervisor leases to it, drives each
 * through create / stream / resume / poll with libcurl on a libevent loop,
 * and writes their events to the store in batched, fenced transactions.
 * It exits when the supervisor goes away.
 */
#ifndef AGENTD_WORKER_H
#define AGENTD_WORKER_H

#include "config.h"

/* Run worker instance on the socketpair fd; returns the exit status. */
int	worker_main(const struct agentd_config *cfg, int instance, int fd);

#endif
