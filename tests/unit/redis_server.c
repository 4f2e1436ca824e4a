/*
 * The private redis-server of the unit tests (see redis_server.h).
 */
#include "tests/unit/redis_server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SERVER_WAIT_MS 10000
#define SERVER_STOP_MS 5000

static pid_t server_pid = -1;
static char socket_path[108];

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

        nanosleep(&ts, NULL);
}

static bool socket_accepts(const char *path)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        bool ok;

        snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
        ok = fd >= 0 &&
             connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
        if (fd >= 0)
                close(fd);
        return ok;
}

static void exec_server(pid_t parent)
{
        int devnull = open("/dev/null", O_WRONLY);

        /* The server must not outlive a runner that crashes. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
                _exit(127);
        if (devnull >= 0)
                dup2(devnull, STDOUT_FILENO);
        execlp("redis-server", "redis-server", "--port", "0",
               "--unixsocket", socket_path, "--unixsocketperm", "700",
               "--save", "", "--appendonly", "no", (char *)NULL);
        fprintf(stderr, "cannot run redis-server: %s; make deps installs it\n",
                strerror(errno));
        _exit(127);
}

void hearth_test_redis_stop(void)
{
        int status;

        if (server_pid > 0) {
                kill(server_pid, SIGTERM);
                for (int waited = 0; waited < SERVER_STOP_MS; waited += 10) {
                        if (waitpid(server_pid, &status, WNOHANG) != 0)
                                break;
                        sleep_ms(10);
                }
                if (waitpid(server_pid, &status, WNOHANG) == 0) {
                        kill(server_pid, SIGKILL);
                        waitpid(server_pid, &status, 0);
                }
        }
        server_pid = -1;
        unlink(socket_path);
}

void hearth_test_redis_start(const char *name)
{
        pid_t parent = getpid();
        int status;

        snprintf(socket_path, sizeof(socket_path), "/tmp/hearth-%s-%d.sock",
                 name, (int)parent);
        unlink(socket_path);
        fflush(NULL);
        server_pid = fork();
        if (server_pid == 0)
                exec_server(parent);
        for (int waited = 0; server_pid > 0; waited += 10) {
                if (socket_accepts(socket_path))
                        return;
                if (waitpid(server_pid, &status, WNOHANG) != 0 ||
                    waited >= SERVER_WAIT_MS) {
                        fprintf(stderr, "redis-server did not "
                                "open %s within %d ms\n", socket_path,
                                SERVER_WAIT_MS);
                        break;
                }
                sleep_ms(10);
        }
        hearth_test_redis_stop();
}

bool hearth_test_redis_running(void)
{
        return server_pid > 0;
}

const char *hearth_test_redis_socket(void)
{
        return socket_path;
}
