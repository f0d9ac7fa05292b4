/*
 * smload: a socketmap load client that behaves like Postfix towards a socketmap server.
 *
 *   smload -p PORT [-H HOST] [-c CONNS] [-d SECONDS | -n COUNT | -1] -k KEYFILE [-z ZONE]
 *          [-e OK,NOTFOUND,...] [-t TIMEOUT] [-L LATENCY_FILE]
 *
 * CONNS persistent TCP connections, each with exactly one request in flight (the next request is sent
 * when the reply to the previous one has arrived). Requests are the netstrings "ZONE KEY" for the keys of
 * KEYFILE (one a line), taken in turn by all connections, cycling (-d, -n) or each key exactly once (-1;
 * with -d too, no new request is sent after that many seconds).
 * Every reply is checked: it must be a well-formed netstring whose text is "OK <value>", "NOTFOUND ",
 * "TEMP <reason>", "TIMEOUT <reason>" or "PERM <reason>", of a kind listed by -e (default: OK). Anything
 * else counts as an error (the first few are shown). Every latency (send to complete reply) is kept;
 * at the end one JSON line on stdout gives lookups/s, percentiles, reply kinds and errors. -L writes the
 * latencies (microseconds, one a line) to a file. -t gives up on replies that take longer than TIMEOUT
 * seconds (default 120); those count as errors.
 *
 * Single-threaded, epoll, non-blocking sockets. Build: cc -O2 -o smload smload.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPLY 100000
enum { K_OK, K_NOTFOUND, K_TEMP, K_TIMEOUT, K_PERM, K_COUNT };
static const char *kind_names[K_COUNT] = {"OK", "NOTFOUND", "TEMP", "TIMEOUT", "PERM"};

struct conn {
    int fd;
    int busy;           /* a request is in flight */
    uint64_t sent_at;   /* ns */
    char *out;          /* the request being written */
    size_t out_len, out_off;
    char *in;
    size_t in_len, in_cap;
};

static char **keys;
static size_t nkeys, next_key;
static char **requests; /* netstring per key */
static size_t *request_lens;
static uint32_t *lat;   /* microseconds */
static size_t nlat, lat_cap;
static uint64_t counts[K_COUNT], errors, timeouts_hit, reconnects;
static int expected[K_COUNT];
static int err_shown;
static char err_samples[5][200];

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *msg) { perror(msg); exit(2); }

static void error_sample(const char *what, const char *data, size_t len) {
    errors++;
    if (err_shown < 5) {
        snprintf(err_samples[err_shown], sizeof err_samples[0], "%s: %.*s", what, (int)(len > 120 ? 120 : len), data);
        for (char *p = err_samples[err_shown]; *p; p++)
            if (*p == '"' || *p == '\\' || (unsigned char)*p < 32) *p = '?';
        err_shown++;
    }
}

static struct sockaddr_storage addr;
static socklen_t addr_len;
static int epfd;

static int open_conn(struct conn *c) {
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&addr, addr_len) < 0 && errno != EINPROGRESS) die("connect");
    c->fd = fd;
    c->busy = 0;
    c->in_len = 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    return fd;
}

static void close_conn(struct conn *c) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
}

static void set_events(struct conn *c, uint32_t events) {
    struct epoll_event ev = {.events = events | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* mode */
static int once;
static uint64_t count_limit, started_requests, finished_requests;
static uint64_t deadline_ns;

static int have_next(void) {
    if (once) return next_key < nkeys && (!deadline_ns || now_ns() < deadline_ns);
    if (count_limit) return started_requests < count_limit;
    return now_ns() < deadline_ns;
}

/* Writes as much of the pending request as the socket takes. Returns -1 on a failed connection. */
static int flush_out(struct conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n < 0) {
            if (errno == EAGAIN) { set_events(c, EPOLLIN | EPOLLOUT); return 0; }
            return -1;
        }
        c->out_off += n;
    }
    set_events(c, EPOLLIN);
    return 0;
}

static int send_next(struct conn *c) {
    size_t i = next_key++ % nkeys;
    started_requests++;
    c->out = requests[i];
    c->out_len = request_lens[i];
    c->out_off = 0;
    c->busy = 1;
    c->sent_at = now_ns();
    return flush_out(c);
}

static void record(uint64_t ns) {
    if (nlat == lat_cap) {
        lat_cap = lat_cap ? lat_cap * 2 : 1 << 16;
        lat = realloc(lat, lat_cap * sizeof *lat);
        if (!lat) die("realloc");
    }
    uint64_t us = ns / 1000;
    lat[nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* Checks one reply text. */
static void judge(const char *s, size_t n) {
    int kind = -1;
    if (n >= 3 && !memcmp(s, "OK ", 3) && n > 3) kind = K_OK;
    else if (n == 9 && !memcmp(s, "NOTFOUND ", 9)) kind = K_NOTFOUND;
    else if (n >= 5 && !memcmp(s, "TEMP ", 5)) kind = K_TEMP;
    else if (n >= 8 && !memcmp(s, "TIMEOUT ", 8)) kind = K_TIMEOUT;
    else if (n >= 5 && !memcmp(s, "PERM ", 5)) kind = K_PERM;
    if (kind < 0) { error_sample("malformed reply", s, n); return; }
    counts[kind]++;
    if (!expected[kind]) error_sample("unexpected reply", s, n);
}

/* Parses complete netstrings in c->in. Returns -1 when the stream is broken. */
static int parse_in(struct conn *c, uint64_t t) {
    size_t off = 0;
    while (off < c->in_len) {
        size_t i = off, len = 0;
        while (i < c->in_len && c->in[i] >= '0' && c->in[i] <= '9' && i - off < 7) len = len * 10 + (c->in[i++] - '0');
        if (i == c->in_len) break; /* incomplete length */
        if (i == off || c->in[i] != ':' || len > MAX_REPLY) { error_sample("bad netstring", c->in + off, c->in_len - off); return -1; }
        if (c->in_len - (i + 1) < len + 1) break; /* incomplete body */
        if (c->in[i + 1 + len] != ',') { error_sample("netstring without comma", c->in + off, c->in_len - off); return -1; }
        if (!c->busy) { error_sample("reply without a request", c->in + i + 1, len); return -1; }
        record(t - c->sent_at);
        judge(c->in + i + 1, len);
        c->busy = 0;
        finished_requests++;
        off = i + 2 + len;
    }
    if (off) { memmove(c->in, c->in + off, c->in_len - off); c->in_len -= off; }
    return 0;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t pct(double p) {
    if (!nlat) return 0;
    size_t i = (size_t)(p / 100.0 * nlat);
    if (i >= nlat) i = nlat - 1;
    return lat[i];
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *keyfile = NULL, *zone = "postfix", *latfile = NULL, *expect = "OK";
    int port = 0, nconns = 1;
    double duration = 0, timeout = 120;
    int opt;
    while ((opt = getopt(argc, argv, "H:p:c:d:n:1k:z:e:t:L:")) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': nconns = atoi(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'n': count_limit = strtoull(optarg, NULL, 10); break;
        case '1': once = 1; break;
        case 'k': keyfile = optarg; break;
        case 'z': zone = optarg; break;
        case 'e': expect = optarg; break;
        case 't': timeout = atof(optarg); break;
        case 'L': latfile = optarg; break;
        default:
            fprintf(stderr, "usage: smload -p PORT [-H HOST] [-c CONNS] [-d SECONDS | -n COUNT | -1] -k KEYFILE [-z ZONE] [-e KINDS] [-t TIMEOUT] [-L FILE]\n");
            return 2;
        }
    }
    if (!port || !keyfile || nconns < 1 || (!duration && !count_limit && !once)) {
        fprintf(stderr, "smload: -p, -k and one of -d, -n, -1 are required\n");
        return 2;
    }
    for (const char *p = expect; *p;) {
        size_t n = strcspn(p, ",");
        int found = 0;
        for (int k = 0; k < K_COUNT; k++)
            if (strlen(kind_names[k]) == n && !strncmp(p, kind_names[k], n)) expected[k] = found = 1;
        if (n == 3 && !strncmp(p, "ANY", 3)) { for (int k = 0; k < K_COUNT; k++) expected[k] = 1; found = 1; }
        if (!found) { fprintf(stderr, "smload: unknown reply kind in -e %s\n", expect); return 2; }
        p += n + (p[n] == ',');
    }

    FILE *f = fopen(keyfile, "r");
    if (!f) die(keyfile);
    char line[1024];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!*line) continue;
        if (nkeys == cap) {
            cap = cap ? cap * 2 : 1024;
            keys = realloc(keys, cap * sizeof *keys);
            requests = realloc(requests, cap * sizeof *requests);
            request_lens = realloc(request_lens, cap * sizeof *request_lens);
        }
        keys[nkeys] = strdup(line);
        size_t body = strlen(zone) + 1 + strlen(line);
        requests[nkeys] = malloc(body + 32);
        request_lens[nkeys] = sprintf(requests[nkeys], "%zu:%s %s,", body, zone, line);
        nkeys++;
    }
    fclose(f);
    if (!nkeys) { fprintf(stderr, "smload: no keys in %s\n", keyfile); return 2; }
    if (once && (size_t)nconns > nkeys) nconns = nkeys;

    struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET; a4->sin_port = htons(port); addr_len = sizeof *a4;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6; a6->sin6_port = htons(port); addr_len = sizeof *a6;
    } else { fprintf(stderr, "smload: bad address %s\n", host); return 2; }

    epfd = epoll_create1(0);
    if (epfd < 0) die("epoll_create1");
    struct conn *conns = calloc(nconns, sizeof *conns);
    for (int i = 0; i < nconns; i++) {
        conns[i].in_cap = 4096;
        conns[i].in = malloc(conns[i].in_cap);
        open_conn(&conns[i]);
    }

    uint64_t start = now_ns();
    deadline_ns = duration > 0 ? start + (uint64_t)(duration * 1e9) : 0;
    uint64_t timeout_ns = (uint64_t)(timeout * 1e9);
    int active = nconns;
    struct epoll_event evs[256];
    while (active > 0) {
        int n = epoll_wait(epfd, evs, 256, 100);
        if (n < 0) { if (errno == EINTR) continue; die("epoll_wait"); }
        uint64_t t = now_ns();
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c->fd < 0) continue;
            int broken = 0;
            if (evs[i].events & EPOLLIN) {
                for (;;) {
                    if (c->in_cap - c->in_len < 4096) {
                        c->in_cap *= 2;
                        c->in = realloc(c->in, c->in_cap);
                    }
                    ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
                    if (r > 0) { c->in_len += r; if ((size_t)r < c->in_cap - c->in_len + r) break; continue; }
                    if (r == 0) { broken = 1; if (c->busy || c->in_len) error_sample("connection closed by the server", "", 0); break; }
                    if (errno == EAGAIN) break;
                    broken = 1; error_sample("read failed", strerror(errno), strlen(strerror(errno)));
                    break;
                }
                if (c->in_len > MAX_REPLY + 16) { error_sample("reply too long", c->in, 64); broken = 1; }
                if (!broken && parse_in(c, t) < 0) broken = 1;
            } else if (evs[i].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
                broken = 1;
                int err = 0; socklen_t l = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
                const char *m = err ? strerror(err) : "hang-up";
                error_sample("connection failed", m, strlen(m));
            }
            if (!broken && c->busy && c->out_off < c->out_len && (evs[i].events & EPOLLOUT))
                if (flush_out(c) < 0) { broken = 1; error_sample("write failed", "", 0); }
            if (!broken && !c->busy) {
                if (have_next()) { if (send_next(c) < 0) { broken = 1; error_sample("write failed", "", 0); } }
                else { close_conn(c); active--; continue; }
            }
            if (broken) {
                if (c->busy) { finished_requests++; c->busy = 0; }
                close_conn(c);
                if (have_next()) { reconnects++; open_conn(c); }
                else active--;
            }
        }
        /* replies that take too long */
        for (int i = 0; i < nconns; i++) {
            struct conn *c = &conns[i];
            if (c->fd >= 0 && c->busy && t > c->sent_at && t - c->sent_at > timeout_ns) {
                timeouts_hit++;
                error_sample("no reply within the timeout", "", 0);
                c->busy = 0;
                finished_requests++;
                close_conn(c);
                if (have_next()) { reconnects++; open_conn(c); } else active--;
            }
        }
    }
    double elapsed = (now_ns() - start) / 1e9;

    if (latfile) {
        FILE *lf = fopen(latfile, "w");
        if (!lf) die(latfile);
        for (size_t i = 0; i < nlat; i++) fprintf(lf, "%u\n", lat[i]);
        fclose(lf);
    }
    qsort(lat, nlat, sizeof *lat, cmp_u32);
    double sum = 0;
    for (size_t i = 0; i < nlat; i++) sum += lat[i];
    printf("{\"conns\": %d, \"requests\": %llu, \"replies\": %zu, \"elapsed_s\": %.4f, \"rps\": %.1f, "
           "\"mean_us\": %.1f, \"p50_us\": %u, \"p90_us\": %u, \"p99_us\": %u, \"p999_us\": %u, \"max_us\": %u, ",
           nconns, (unsigned long long)started_requests, nlat, elapsed, nlat / elapsed,
           nlat ? sum / nlat : 0.0, pct(50), pct(90), pct(99), pct(99.9), nlat ? lat[nlat - 1] : 0);
    printf("\"kinds\": {");
    for (int k = 0; k < K_COUNT; k++) printf("%s\"%s\": %llu", k ? ", " : "", kind_names[k], (unsigned long long)counts[k]);
    printf("}, \"errors\": %llu, \"timeouts\": %llu, \"reconnects\": %llu, \"error_samples\": [",
           (unsigned long long)errors, (unsigned long long)timeouts_hit, (unsigned long long)reconnects);
    for (int i = 0; i < err_shown; i++) printf("%s\"%s\"", i ? ", " : "", err_samples[i]);
    printf("]}\n");
    return 0;
}
