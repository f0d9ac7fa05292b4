/*
 * smcoldfloor: the floor of the benchmark's cold scenario. A socketmap server that does, for every request,
 * the least work a cold MTA-STS lookup needs and nothing more:
 *
 *   1. the TXT query for _mta-sts.<domain> (the world's resolver, through the C library's res_nquery), and a
 *      check that one record starts with "v=STSv1";
 *   2. the A query for mta-sts.<domain>;
 *   3. one HTTPS GET of https://mta-sts.<domain>/.well-known/mta-sts.txt with a bare OpenSSL client: one
 *      SSL_CTX shared by every connection (the CA file read once), the certificate verified against the
 *      host name, HTTP/1.0 with the body read to the end (at most 64 KiB), a check for "200" and
 *      "version: STSv1";
 *
 * and then answers with one fixed reply. No policy parsing, no cache, no MX matching, no AAAA, no DANE, no
 * logging: what is left is what any resolver must spend on a domain it has not seen, so its lookups/s are
 * the most any daemon could answer cold on the machine it runs on (with the world's servers beside it).
 *
 *   smcoldfloor [-H HOST] -p PORT [-r REPLY] [-A CAFILE] [-t SECONDS]
 *
 * A thread per connection, blocking sockets (the load client keeps C connections with one request in flight
 * on each, as Postfix does). A failed step answers "TEMP <step>". Build:
 *   cc -O2 -pthread -o smcoldfloor smcoldfloor.c -lssl -lcrypto -lresolv
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <resolv.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_REQUEST 10000
#define MAX_RESPONSE 65536
#define MAX_DOMAIN 253

static SSL_CTX *tls;
static const char *fixed_reply;
static int timeout_s = 10;

struct conn {
    int fd;
    struct __res_state dns; /* the resolver's state is per thread */
    unsigned char answer[4096];
    char in[MAX_REQUEST + 32];
    size_t in_len;
    char body[MAX_RESPONSE + 1];
};

static void set_timeouts(int fd) {
    struct timeval tv = {.tv_sec = timeout_s};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* The answers of type TYPE in a DNS reply: calls FOUND with each record's data until it returns nonzero. */
static int each_answer(const unsigned char *msg, int len, int type,
                       int (*found)(const unsigned char *, int, void *), void *arg) {
    ns_msg m;
    if (ns_initparse(msg, len, &m) < 0) return 0;
    int n = ns_msg_count(m, ns_s_an);
    for (int i = 0; i < n; i++) {
        ns_rr rr;
        if (ns_parserr(&m, ns_s_an, i, &rr) < 0) return 0;
        if ((int)ns_rr_type(rr) == type && found(ns_rr_rdata(rr), ns_rr_rdlen(rr), arg)) return 1;
    }
    return 0;
}

static int is_sts_txt(const unsigned char *rdata, int len, void *arg) {
    (void)arg;
    /* the record's first character-string is enough: the floor checks, it does not parse */
    return len > 7 && rdata[0] >= 7 && memcmp(rdata + 1, "v=STSv1", 7) == 0;
}

static int take_a(const unsigned char *rdata, int len, void *arg) {
    if (len != 4) return 0;
    memcpy(arg, rdata, 4);
    return 1;
}

/* One HTTPS GET of the policy; returns NULL or the step that failed. */
static const char *fetch_policy(struct conn *c, const char *host, const struct in_addr *address) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(443), .sin_addr = *address};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return "socket";
    set_timeouts(fd);
    const char *failed = NULL;
    SSL *ssl = NULL;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { failed = "connect"; goto out; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ssl = SSL_new(tls);
    if (!ssl || !SSL_set_fd(ssl, fd) || !SSL_set_tlsext_host_name(ssl, host) || !SSL_set1_host(ssl, host)) {
        failed = "tls-setup"; goto out;
    }
    if (SSL_connect(ssl) != 1 || SSL_get_verify_result(ssl) != X509_V_OK) { failed = "tls-handshake"; goto out; }
    char request[512];
    int n = snprintf(request, sizeof request, "GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: %s\r\n\r\n", host);
    if (SSL_write(ssl, request, n) != n) { failed = "http-write"; goto out; }
    size_t got = 0;
    for (;;) {
        if (got == MAX_RESPONSE) { failed = "http-too-big"; goto out; }
        int r = SSL_read(ssl, c->body + got, (int)(MAX_RESPONSE - got));
        if (r <= 0) {
            int e = SSL_get_error(ssl, r);
            if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) break; /* EOF */
            failed = "http-read"; goto out;
        }
        got += (size_t)r;
    }
    c->body[got] = 0;
    if (got < 12 || memcmp(c->body + 9, "200", 3) != 0) { failed = "http-status"; goto out; }
    const char *blank = strstr(c->body, "\r\n\r\n");
    if (!blank || !strstr(blank, "version: STSv1")) failed = "policy";
out:
    if (ssl) SSL_free(ssl);
    ERR_clear_error();
    close(fd);
    return failed;
}

/* The cold lookup of DOMAIN; returns NULL or the step that failed. */
static const char *cold_lookup(struct conn *c, const char *domain) {
    char name[MAX_DOMAIN + 16];
    snprintf(name, sizeof name, "_mta-sts.%s", domain);
    int len = res_nquery(&c->dns, name, ns_c_in, ns_t_txt, c->answer, sizeof c->answer);
    if (len < 0 || !each_answer(c->answer, len, ns_t_txt, is_sts_txt, NULL)) return "txt";
    snprintf(name, sizeof name, "mta-sts.%s", domain);
    struct in_addr address;
    len = res_nquery(&c->dns, name, ns_c_in, ns_t_a, c->answer, sizeof c->answer);
    if (len < 0 || !each_answer(c->answer, len, ns_t_a, take_a, &address)) return "a";
    return fetch_policy(c, name, &address);
}

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int answer(struct conn *c, const char *text) {
    char out[4096 + 32];
    int n = snprintf(out, sizeof out, "%zu:%s,", strlen(text), text);
    return write_all(c->fd, out, (size_t)n);
}

/* Reads netstrings "<zone> <domain>" and answers each; returns when the client goes or misbehaves. */
static void *serve(void *arg) {
    struct conn *c = arg;
    for (;;) {
        /* one whole netstring in c->in[0 .. in_len) */
        char *colon;
        size_t size = 0, head = 0;
        for (;;) {
            colon = memchr(c->in, ':', c->in_len);
            if (colon) {
                head = (size_t)(colon - c->in) + 1;
                size = 0;
                for (char *d = c->in; d < colon; d++) {
                    if (*d < '0' || *d > '9' || size > MAX_REQUEST) goto done;
                    size = size * 10 + (size_t)(*d - '0');
                }
                if (size > MAX_REQUEST || head == 1) goto done;
                if (c->in_len >= head + size + 1) break;
            } else if (c->in_len > 6) {
                goto done;
            }
            ssize_t r = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) goto done;
            c->in_len += (size_t)r;
        }
        if (c->in[head + size] != ',') goto done;
        char request[MAX_REQUEST + 1];
        memcpy(request, c->in + head, size);
        request[size] = 0;
        size_t used = head + size + 1;
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;

        char *domain = strchr(request, ' ');
        const char *failed = "request";
        if (domain && strlen(domain + 1) > 0 && strlen(domain + 1) <= MAX_DOMAIN) failed = cold_lookup(c, domain + 1);
        char temp[64];
        if (failed) snprintf(temp, sizeof temp, "TEMP %s", failed);
        if (answer(c, failed ? temp : fixed_reply) < 0) goto done;
    }
done:
    close(c->fd);
    res_nclose(&c->dns);
    free(c);
    return NULL;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *ca_file = "/etc/ssl/certs/ca-certificates.crt";
    fixed_reply = "OK secure match=mail.good.test:.mx.good.test servername=hostname";
    int port = 0, opt;
    while ((opt = getopt(argc, argv, "H:p:r:A:t:")) != -1) {
        if (opt == 'H') host = optarg;
        else if (opt == 'p') port = atoi(optarg);
        else if (opt == 'r') fixed_reply = optarg;
        else if (opt == 'A') ca_file = optarg;
        else if (opt == 't') timeout_s = atoi(optarg);
        else { fprintf(stderr, "usage: smcoldfloor [-H HOST] -p PORT [-r REPLY] [-A CAFILE] [-t SECONDS]\n"); return 2; }
    }
    if (!port) { fprintf(stderr, "smcoldfloor: -p PORT is required\n"); return 2; }
    if (strlen(fixed_reply) > 4096) { fprintf(stderr, "smcoldfloor: the reply is too long\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);

    tls = SSL_CTX_new(TLS_client_method());
    if (!tls || SSL_CTX_load_verify_locations(tls, ca_file, NULL) != 1) {
        fprintf(stderr, "smcoldfloor: cannot load the CA file %s\n", ca_file);
        return 2;
    }
    SSL_CTX_set_verify(tls, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_min_proto_version(tls, TLS1_2_VERSION);

    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) { fprintf(stderr, "smcoldfloor: bad address %s\n", host); return 2; }
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0) { perror("smcoldfloor: bind"); return 2; }
    if (listen(ls, 1024) < 0) { perror("smcoldfloor: listen"); return 2; }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) continue;
            perror("smcoldfloor: accept");
            return 2;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c || res_ninit(&c->dns) != 0) { close(fd); free(c); continue; }
        c->fd = fd;
        pthread_t t;
        if (pthread_create(&t, &attr, serve, c) != 0) { res_nclose(&c->dns); close(fd); free(c); }
    }
}
