/*
 * daemon.h: the running detector: consumer -> pipeline -> store ->
 * publisher, with the flush timer, backoff while the store is unavailable,
 * outbox recovery on start, the status line and clean shutdown on SIGINT or
 * SIGTERM (flush, publish, store offsets, exit 0).
 */
#ifndef FS_DETECTOR_DAEMON_H
#define FS_DETECTOR_DAEMON_H

#include "config/config.h"

/* Runs until SIGINT or SIGTERM. Returns the process exit status. */
int fs_daemon_run(const fs_config_t *cfg);

#endif
