/* smclient.c - closed-loop load client for Postfix socketmap (netstring) servers.
 *
 * Each of C connections keeps exactly one request in flight (like Postfix's
 * socketmap client): send "<map> <domain>" as a netstring, wait for the full
 * netstring reply, record latency, send the next one.
 *
 * build: gcc -O2 -Wall -o smclient smclient.c
 * usage: smclient [-H host] [-p port | -U unix-socket-path] [-c conns] [-n queries]
 *                 [-m seq|rand] [-z mapname] [-t timeout_s] [-P] [-L latfile] domains-file|-
 *   -m seq : query i uses domain i % N  (first N queries are N distinct domains)
 *   -m rand: domain chosen by a fixed-seed xorshift PRNG (reproducible)
 *   -P     : print every reply ("domain<TAB>latency_ms<TAB>reply")
 * Output (one line, key=value): queries, wall_s, qps, p50_ms, p90_ms, p99_ms,
 *   max_ms, ok, notfound, other, mismatch (OK replies whose match= is not
 *   mx1.<domain>), errors, client_cpu_s (user+sys of this client).
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ 8192

struct conn {
    int fd;
    long qidx;          /* index of in-flight query, -1 if none */
    size_t dom;         /* domain index of in-flight query */
    double t0;
    char out[600];
    size_t outlen, outoff;
    char in[BUFSZ];
    size_t inlen;
};

static char **doms;
static size_t ndoms;
static double *lat;
static long issued, done_q, nq;
static long c_ok, c_nf, c_other, c_mismatch, c_err;
static int print_mode, rand_mode;
static const char *mapname = "postfix";
static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t next_dom(long i) {
    if (!rand_mode) return (size_t)(i % (long)ndoms);
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (size_t)(rng % ndoms);
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void load_domains(const char *path) {
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) { perror(path); exit(2); }
    size_t cap = 1024; char line[512];
    doms = malloc(cap * sizeof *doms);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0]) continue;
        if (ndoms == cap) doms = realloc(doms, (cap *= 2) * sizeof *doms);
        doms[ndoms++] = strdup(line);
    }
    if (f != stdin) fclose(f);
    if (!ndoms) { fprintf(stderr, "no domains\n"); exit(2); }
}

static void issue(struct conn *c, int ep) {
    if (issued >= nq) { c->qidx = -1; return; }
    c->qidx = issued++;
    c->dom = next_dom(c->qidx);
    char req[520];
    int rl = snprintf(req, sizeof req, "%s %s", mapname, doms[c->dom]);
    c->outlen = (size_t)snprintf(c->out, sizeof c->out, "%d:%s,", rl, req);
    c->outoff = 0;
    c->t0 = now();
    ssize_t w = write(c->fd, c->out, c->outlen);
    if (w < 0 && errno != EAGAIN) { perror("write"); exit(1); }
    if (w > 0) c->outoff = (size_t)w;
    if (c->outoff < c->outlen) {   /* rare: finish the write when writable */
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    }
}

/* returns 1 if a full reply was consumed */
static int try_parse(struct conn *c) {
    size_t i = 0, len = 0;
    while (i < c->inlen && c->in[i] >= '0' && c->in[i] <= '9') len = len * 10 + (size_t)(c->in[i++] - '0');
    if (i == c->inlen) return 0;
    if (c->in[i] != ':' || i == 0) { fprintf(stderr, "bad netstring from server\n"); exit(1); }
    if (c->inlen < i + 1 + len + 1) return 0;
    if (c->in[i + 1 + len] != ',') { fprintf(stderr, "bad netstring terminator\n"); exit(1); }
    double t = now() - c->t0;
    char *data = c->in + i + 1;
    lat[done_q++] = t;
    const char *d = doms[c->dom];
    if (len >= 3 && !memcmp(data, "OK ", 3)) {
        c_ok++;
        char want[600];
        int wl = snprintf(want, sizeof want, "match=mx1.%s", d);
        if (!memmem(data, len, want, (size_t)wl)) c_mismatch++;
    } else if (len >= 8 && !memcmp(data, "NOTFOUND", 8)) c_nf++;
    else c_other++;
    if (print_mode) printf("%s\t%.3f\t%.*s\n", d, t * 1e3, (int)len, data);
    size_t used = i + 1 + len + 1;
    memmove(c->in, c->in + used, c->inlen - used);
    c->inlen -= used;
    return 1;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *latfile = NULL, *upath = NULL;
    int port = 13461, nconn = 1, opt;
    double tmo = 600;
    nq = -1;
    while ((opt = getopt(argc, argv, "H:p:U:c:n:m:z:t:PL:")) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'U': upath = optarg; break;
        case 'c': nconn = atoi(optarg); break;
        case 'n': nq = atol(optarg); break;
        case 'm': rand_mode = !strcmp(optarg, "rand"); break;
        case 'z': mapname = optarg; break;
        case 't': tmo = atof(optarg); break;
        case 'P': print_mode = 1; break;
        case 'L': latfile = optarg; break;
        default: fprintf(stderr, "see source for usage\n"); return 2;
        }
    }
    if (optind >= argc) { fprintf(stderr, "need domains file\n"); return 2; }
    load_domains(argv[optind]);
    if (nq < 0) nq = (long)ndoms;
    lat = malloc(sizeof(double) * (size_t)(nq + 1));
    if (nconn > nq) nconn = (int)nq;

    int ep = epoll_create1(0);
    struct conn *cs = calloc((size_t)nconn, sizeof *cs);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, host, &sa.sin_addr);
    struct sockaddr_un su = { .sun_family = AF_UNIX };
    if (upath) snprintf(su.sun_path, sizeof su.sun_path, "%s", upath);
    for (int i = 0; i < nconn; i++) {
        int fd = socket(upath ? AF_UNIX : AF_INET, SOCK_STREAM, 0);
        if (upath ? connect(fd, (struct sockaddr *)&su, sizeof su) < 0
                  : connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("connect"); return 1; }
        int one = 1;
        if (!upath) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, O_NONBLOCK);
        cs[i].fd = fd; cs[i].qidx = -1;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &cs[i] };
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    double start = now();
    for (int i = 0; i < nconn; i++) issue(&cs[i], ep);

    struct epoll_event evs[256];
    while (done_q < nq) {
        int n = epoll_wait(ep, evs, 256, 1000);
        if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); return 1; }
        if (now() - start > tmo) { fprintf(stderr, "timeout after %.1fs (%ld/%ld done)\n", tmo, done_q, nq); c_err++; break; }
        for (int k = 0; k < n; k++) {
            struct conn *c = evs[k].data.ptr;
            if (evs[k].events & EPOLLOUT && c->outoff < c->outlen) {
                ssize_t w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
                if (w > 0) c->outoff += (size_t)w;
                if (c->outoff == c->outlen) {
                    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t r = read(c->fd, c->in + c->inlen, BUFSZ - c->inlen);
                if (r == 0 || (r < 0 && errno != EAGAIN)) {
                    fprintf(stderr, "connection closed by server (query %ld)\n", c->qidx);
                    c_err++; epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd);
                    if (c->qidx >= 0) { nq--; } /* give up on it */
                    continue;
                }
                if (r > 0) c->inlen += (size_t)r;
                while (c->qidx >= 0 && try_parse(c)) issue(c, ep);
            }
        }
    }
    double wall = now() - start;
    for (int i = 0; i < nconn; i++) close(cs[i].fd);
    if (latfile) {
        FILE *lf = fopen(latfile, "w");
        for (long i = 0; lf && i < done_q; i++) fprintf(lf, "%.6f\n", lat[i] * 1e3);
        if (lf) fclose(lf);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cli_cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    qsort(lat, (size_t)done_q, sizeof *lat, cmpd);
#define PCT(p) (done_q ? lat[(long)((p) * (done_q - 1))] * 1e3 : 0)
    fprintf(print_mode ? stderr : stdout,
            "queries=%ld conns=%d wall_s=%.3f qps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f "
            "max_ms=%.3f ok=%ld notfound=%ld other=%ld mismatch=%ld errors=%ld client_cpu_s=%.2f\n",
            done_q, nconn, wall, done_q / wall, PCT(0.50), PCT(0.90), PCT(0.99),
            PCT(1.0), c_ok, c_nf, c_other, c_mismatch, c_err, cli_cpu);
    return c_err ? 1 : 0;
}
