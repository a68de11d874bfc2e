/* The kernel's own cost of one TCP health check on loopback, as a floor to compare the prober with.
   Build: gcc -O2 -o /tmp/tcp-check-floor bench/health/tcp-check-floor.c; run: /tmp/tcp-check-floor PORT SECONDS.
   It listens on 0.0.0.0:PORT (a forked child accepts and closes), then makes 1,000 checks a second to
   127.1.0.0-127.1.3.231, each: nonblocking socket, SO_LINGER 0, connect, poll for writable, SO_ERROR, close (RST),
   and prints its own CPU time per check. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <time.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <arpa/inet.h>
int main(int argc, char **argv) {
  int port = atoi(argv[1]), seconds = atoi(argv[2]);
  int ls = socket(AF_INET, SOCK_STREAM, 0); int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };
  if (bind(ls, (void*)&a, sizeof a) || listen(ls, 4096)) { perror("listen"); return 1; }
  if (fork() == 0) { for (;;) { int c = accept(ls, 0, 0); if (c >= 0) close(c); } }
  struct timespec start, now; clock_gettime(CLOCK_MONOTONIC, &start);
  long checks = 0; struct linger lg = { 1, 0 };
  struct rusage r0; getrusage(RUSAGE_SELF, &r0);
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    double t = (now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
    if (t >= seconds) break;
    while (checks < t * 1000) {
      int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      struct sockaddr_in b = a; b.sin_addr.s_addr = htonl(0x7f010000 | (checks % 1000));
      connect(s, (void*)&b, sizeof b);
      struct pollfd p = { s, POLLOUT, 0 }; poll(&p, 1, 500);
      int err; socklen_t l = sizeof err; getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &l);
      close(s); checks++;
    }
    usleep(1000);
  }
  struct rusage r1; getrusage(RUSAGE_SELF, &r1);
  double cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) + (r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) + ((r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) + (r1.ru_stime.tv_usec - r0.ru_stime.tv_usec)) / 1e6;
  printf("checks=%ld cpu_s=%.3f share_of_one_core=%.2f%% cpu_per_check_us=%.1f\n", checks, cpu, cpu / seconds * 100, cpu / checks * 1e6);
  fflush(stdout); kill(0, 9);
  return 0;
}
