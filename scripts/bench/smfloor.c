/*
 * smfloor: the floor of the benchmark. A socketmap server that answers every request netstring with one
 * fixed reply and does nothing else: no parsing beyond the netstring framing, no lookup, no allocation per
 * request. It is the fastest any socketmap daemon could answer on the machine it runs on.
 *
 *   smfloor [-H HOST] -p PORT [-r REPLY]     (REPLY default: the answer for the good test policy)
 *
 * Single-threaded, epoll, non-blocking sockets. Build: cc -O2 -o smfloor smfloor.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
    int fd;
    char in[16384];
    size_t in_len;
};

static void die(const char *m) { perror(m); exit(2); }

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    const char *text = "OK secure match=mail.good.test:.mx.good.test servername=hostname";
    int port = 0, opt;
    while ((opt = getopt(argc, argv, "H:p:r:")) != -1) {
        if (opt == 'H') host = optarg;
        else if (opt == 'p') port = atoi(optarg);
        else if (opt == 'r') text = optarg;
        else { fprintf(stderr, "usage: smfloor [-H HOST] -p PORT [-r REPLY]\n"); return 2; }
    }
    if (!port) { fprintf(stderr, "smfloor: -p PORT is required\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    char reply[4096];
    int reply_len = snprintf(reply, sizeof reply, "%zu:%s,", strlen(text), text);
    /* replies for up to 64 pipelined requests at once */
    static char many[64 * sizeof reply];
    for (int i = 0; i < 64; i++) memcpy(many + i * reply_len, reply, reply_len);

    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) { fprintf(stderr, "smfloor: bad address %s\n", host); return 2; }
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
    if (listen(ls, 1024) < 0) die("listen");
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) { if (errno == EINTR) continue; die("epoll_wait"); }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *nc = calloc(1, sizeof *nc);
                    nc->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            ssize_t r = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                close(c->fd);
                free(c);
                continue;
            }
            c->in_len += r;
            /* count complete netstrings */
            size_t off = 0;
            int complete = 0, bad = 0;
            while (off < c->in_len) {
                size_t j = off, len = 0;
                while (j < c->in_len && c->in[j] >= '0' && c->in[j] <= '9') len = len * 10 + (c->in[j++] - '0');
                if (j == c->in_len) break;
                if (j == off || c->in[j] != ':' || len > 10000) { bad = 1; break; }
                if (c->in_len - j - 1 < len + 1) break;
                if (c->in[j + 1 + len] != ',') { bad = 1; break; }
                off = j + 2 + len;
                complete++;
            }
            while (complete > 0) {
                int k = complete > 64 ? 64 : complete;
                if (write(c->fd, many, (size_t)k * reply_len) < 0) { bad = 1; break; }
                complete -= k;
            }
            if (bad) { close(c->fd); free(c); continue; }
            memmove(c->in, c->in + off, c->in_len - off);
            c->in_len -= off;
        }
    }
}
