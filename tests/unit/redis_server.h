/*
 * A private redis-server for unit tests: a Unix socket, no TCP port, no
 * persistence. Start it from a Check unchecked fixture, which runs in the
 * runner's own process, so the server outlives the forked tests.
 */
#ifndef HEARTH_TEST_REDIS_SERVER_H
#define HEARTH_TEST_REDIS_SERVER_H

#include <stdbool.h>

/*
 * Starts redis-server on /tmp/hearth-<name>-<pid>.sock and waits until it
 * accepts connections. On failure a message goes to standard error and
 * hearth_test_redis_running() returns false.
 */
void hearth_test_redis_start(const char *name);

/* Stops the server (SIGTERM, then SIGKILL) and removes its socket. */
void hearth_test_redis_stop(void);

bool hearth_test_redis_running(void);

/* Returns the server's socket path. */
const char *hearth_test_redis_socket(void);

#endif
