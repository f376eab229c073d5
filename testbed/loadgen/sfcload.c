/*
 * sfcload: an open-loop HTTP/1.1 load generator (epoll, one thread per -t).
 *
 * Request i is due at the time t_i where the rate profile's cumulative count
 * reaches i, and its latency counts from t_i, so a slow server cannot slow
 * the offered load down (no coordinated omission).  The profile is a list of
 * piecewise-linear stages (-s DURATION:START_RATE:END_RATE).  Each request
 * has exactly one outcome: ok (2xx), blocked (403), other status, error or
 * timeout (no full response within --timeout of its due time).
 *
 * Output, on stdout at the end: one JSON line per second of the run, keyed by
 * the second in which requests were due (their outcomes and latencies), plus
 * "completed" (responses received during that wall-clock second), then one
 * summary line.  Built and driven by testbed/loadgen/__init__.py.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define VERSION 1
#define MAX_RATE 1e7          /* requests/s: above this a profile is a typo, not a plan */
#define MAX_DURATION 86400.0  /* s */
#define MAX_TOTAL 1e9         /* requests in one run */
#define LATE_NS 1000000       /* a request handled > 1 ms after its due time is late */
#define SCAN_NS 5000000       /* timeouts are checked every 5 ms */
#define DRAIN_NS 1000000000LL /* a closing connection waits this long for the server's FIN */
#define HEAD_MAX 65536        /* longest response head accepted */
#define LINE_MAX_ 1024        /* longest chunk-size or trailer line accepted */
#define TIMER_EVENT UINT64_MAX

/* Latency histogram: log-linear buckets of microseconds, SUB per power of two
 * (relative width <= 1/32); values below SUB us are exact. */
#define SUB_BITS 5
#define SUB (1 << SUB_BITS)
#define NBUCKETS ((40 - SUB_BITS + 1) * SUB) /* up to 2^40 us */

static int bucket_of(uint64_t us) {
    if (us < SUB) return (int)us;
    int e = 63 - __builtin_clzll(us);
    int idx = (e - SUB_BITS + 1) * SUB + (int)((us >> (e - SUB_BITS)) - SUB);
    return idx < NBUCKETS ? idx : NBUCKETS - 1;
}

static uint64_t bucket_low(int idx) {
    int q = idx / SUB, sub = idx % SUB;
    return q == 0 ? (uint64_t)sub : (uint64_t)(SUB + sub) << (q - 1);
}

static double bucket_mid(int idx) {
    int q = idx / SUB;
    return (double)bucket_low(idx) + (q == 0 ? 0.5 : (double)(1ULL << (q - 1)) / 2.0);
}

/* ---------------------------------------------------------------- options */

typedef struct { double dur, r0, r1, t0, n0, n; } stage_t; /* t0, n0: start time and count */

static struct {
    stage_t *stages;
    int nstages;
    double duration; /* s, after the --max-duration cap */
    int connections, threads, new_connection;
    long body_bytes;
    double attack_share, timeout;
    uint64_t seed;
    const char *attack_path, *source, *url;
    char host[256], port[16], path[4096];
    struct sockaddr_storage addr, src;
    socklen_t addrlen, srclen;
    char *req[2]; /* normal, attack */
    size_t reqlen[2];
} opt;

static volatile sig_atomic_t stop_flag;
static uint64_t start_ns;
static int nseconds; /* per-second slots: the run plus the timeout plus slack */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("sfcload: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double parse_num(const char *s, const char *what) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) die("%s: '%s' is not a number", what, s);
    return v;
}

static void add_stage(const char *spec) {
    char buf[256], *parts[3];
    int k = 0;
    snprintf(buf, sizeof buf, "%s", spec);
    for (char *tok = strtok(buf, ":"); tok; tok = strtok(NULL, ":")) {
        if (k == 3) die("stage '%s': expected DURATION:RATE or DURATION:START_RATE:END_RATE", spec);
        parts[k++] = tok;
    }
    if (k < 2) die("stage '%s': expected DURATION:RATE or DURATION:START_RATE:END_RATE", spec);
    stage_t s = {0};
    s.dur = parse_num(parts[0], "stage duration");
    s.r0 = parse_num(parts[1], "stage rate");
    s.r1 = k == 3 ? parse_num(parts[2], "stage rate") : s.r0;
    if (s.dur <= 0 || s.dur > MAX_DURATION) die("stage '%s': duration must be in (0, %g] s", spec, MAX_DURATION);
    if (s.r0 < 0 || s.r1 < 0 || s.r0 > MAX_RATE || s.r1 > MAX_RATE)
        die("stage '%s': rates must be in [0, %g] requests/s", spec, MAX_RATE);
    opt.stages = realloc(opt.stages, sizeof(stage_t) * (opt.nstages + 1));
    opt.stages[opt.nstages++] = s;
}

/* Cut the profile at the --max-duration cap and number its stages. */
static void finish_profile(double cap) {
    if (opt.nstages == 0) die("no load profile: give at least one --stage DURATION:START_RATE[:END_RATE]");
    double t = 0, n = 0;
    int k;
    for (k = 0; k < opt.nstages && t < cap; k++) {
        stage_t *s = &opt.stages[k];
        if (t + s->dur > cap) { /* cut this stage short, at the rate it has reached by then */
            double d = cap - t;
            s->r1 = s->r0 + (s->r1 - s->r0) * d / s->dur;
            s->dur = d;
        }
        s->t0 = t;
        s->n0 = n;
        s->n = (s->r0 + s->r1) / 2 * s->dur;
        t += s->dur;
        n += s->n;
    }
    opt.nstages = k;
    opt.duration = t;
    if (t > MAX_DURATION) die("profile lasts %g s, more than %g s", t, MAX_DURATION);
    if (n > MAX_TOTAL) die("profile offers %.3g requests, more than %g in one run", n, MAX_TOTAL);
    if (n < 1) die("profile offers no request (its rates are all zero)");
}

static uint64_t sched_count(void) { /* requests due before the end */
    stage_t *s = &opt.stages[opt.nstages - 1];
    return (uint64_t)ceil(s->n0 + s->n);
}

/* Due time (s from start) of request i; *cursor is the caller's stage, advanced monotonically. */
static double sched_time(uint64_t i, int *cursor) {
    while (*cursor < opt.nstages - 1 && (double)i >= opt.stages[*cursor].n0 + opt.stages[*cursor].n) (*cursor)++;
    stage_t *s = &opt.stages[*cursor];
    double n = (double)i - s->n0;
    if (n <= 0) return s->t0;
    double a = (s->r1 - s->r0) / (2 * s->dur), disc = s->r0 * s->r0 + 4 * a * n;
    double tau = 2 * n / (s->r0 + sqrt(disc > 0 ? disc : 0)); /* root of a*tau^2 + r0*tau = n, stable */
    if (!isfinite(tau) || tau > s->dur) tau = s->dur;
    return s->t0 + tau;
}

static int is_attack(uint64_t i) { /* splitmix64 of (seed, i): the same choice at any thread count */
    if (opt.attack_share <= 0) return 0;
    uint64_t z = opt.seed + (i + 1) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53 < opt.attack_share;
}

static void parse_url(const char *url) {
    if (strncmp(url, "http://", 7)) die("URL '%s': only plain http://HOST[:PORT][/PATH] is supported", url);
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    snprintf(opt.path, sizeof opt.path, "%s", slash ? slash : "/");
    if (hl == 0 || hl >= sizeof opt.host) die("URL '%s': bad host", url);
    memcpy(opt.host, h, hl);
    opt.host[hl] = 0;
    char *colon = strrchr(opt.host, ':'), *bracket = strrchr(opt.host, ']');
    snprintf(opt.port, sizeof opt.port, "80");
    if (colon && (!bracket || colon > bracket)) {
        snprintf(opt.port, sizeof opt.port, "%s", colon + 1);
        *colon = 0;
    }
    char name[256];
    snprintf(name, sizeof name, "%s", opt.host);
    if (name[0] == '[') { /* [IPv6] */
        memmove(name, name + 1, strlen(name));
        name[strcspn(name, "]")] = 0;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(name, opt.port, &hints, &res);
    if (rc) die("URL '%s': cannot resolve %s port %s: %s", url, name, opt.port, gai_strerror(rc));
    memcpy(&opt.addr, res->ai_addr, res->ai_addrlen);
    opt.addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    snprintf(opt.host + strlen(opt.host), sizeof opt.host - strlen(opt.host), "%s%s",
             strcmp(opt.port, "80") ? ":" : "", strcmp(opt.port, "80") ? opt.port : "");
}

static void parse_source(const char *src) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_PASSIVE}, *res;
    int rc = getaddrinfo(src, "0", &hints, &res);
    if (rc) die("source address '%s': %s (give a numeric address of this host)", src, gai_strerror(rc));
    memcpy(&opt.src, res->ai_addr, res->ai_addrlen);
    opt.srclen = res->ai_addrlen;
    freeaddrinfo(res);
    if (opt.src.ss_family != opt.addr.ss_family) die("source address '%s' and the URL's host differ in family", src);
}

static void build_requests(void) {
    for (int a = 0; a < 2; a++) {
        const char *path = a ? opt.attack_path : opt.path;
        size_t cap = strlen(path) + strlen(opt.host) + 256 + (size_t)opt.body_bytes;
        char *b = malloc(cap);
        if (!b) die("out of memory for a %ld-byte request body", opt.body_bytes);
        int n = snprintf(b, cap, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sfcload/%d\r\n%s",
                         opt.body_bytes ? "POST" : "GET", path, opt.host, VERSION,
                         opt.new_connection ? "Connection: close\r\n" : "");
        if (opt.body_bytes)
            n += snprintf(b + n, cap - n, "Content-Type: application/octet-stream\r\nContent-Length: %ld\r\n",
                          opt.body_bytes);
        n += snprintf(b + n, cap - n, "\r\n");
        memset(b + n, 'x', (size_t)opt.body_bytes);
        opt.req[a] = b;
        opt.reqlen[a] = (size_t)n + (size_t)opt.body_bytes;
    }
}

/* ------------------------------------------------------------- statistics */

typedef struct {
    uint64_t offered, attacks, sent, ok, blocked, other, errors, timeouts, late, queued, completed;
    uint64_t max_us, late_max_us;
    uint32_t *hist;
} second_t;

typedef struct { uint64_t i, due; int attack, retried, sent; } req_t; /* due: CLOCK_MONOTONIC ns */

enum { C_FREE, C_CONNECTING, C_WRITING, C_READING, C_IDLE, C_DRAINING };
enum { P_HEAD, P_BODY_LEN, P_CHUNK_SIZE, P_CHUNK_DATA, P_CHUNK_CRLF, P_TRAILER, P_BODY_EOF };

typedef struct conn {
    int fd, state, slot, requests; /* requests: answered on this connection so far */
    uint32_t gen; /* bumped per connection, so that a stale event never reaches a reused slot */
    req_t req;
    size_t woff;
    int pstate, status, close_after, got_bytes;
    int64_t remaining;
    char *head;
    size_t hlen, hcap, llen;
    char line[LINE_MAX_];
    uint64_t drain_until;
    struct conn *next_idle;
} conn_t;

typedef struct {
    int id, ep, tfd, cap, open; /* open: connections counted against the cap */
    second_t *sec;
    conn_t **conns;
    int nconns, conns_cap;
    conn_t *idle, *free_slots; /* both linked through next_idle */
    req_t *waitq;
    size_t wq_head, wq_len, wq_cap;
    uint64_t connects;
    char first_error[160];
    uint64_t armed;
} thread_t;

static second_t *sec_of(thread_t *t, uint64_t ns) {
    int64_t k = ns > start_ns ? (int64_t)((ns - start_ns) / 1000000000ULL) : 0;
    return &t->sec[k < nseconds ? k : nseconds - 1];
}

static void note_error(thread_t *t, const char *what, int err) {
    if (!t->first_error[0])
        snprintf(t->first_error, sizeof t->first_error, "%s%s%s", what, err ? ": " : "", err ? strerror(err) : "");
}

/* ------------------------------------------------------------ connections */

static void dispatch(thread_t *t, req_t r, uint64_t now);

static void conn_close(thread_t *t, conn_t *c, int reset) {
    if (reset) {
        struct linger l = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(c->fd);
    if (c->state != C_DRAINING) t->open--;
    if (c->state == C_IDLE) { /* unlink from the idle list */
        for (conn_t **p = &t->idle; *p; p = &(*p)->next_idle)
            if (*p == c) { *p = c->next_idle; break; }
    }
    c->state = C_FREE;
    c->fd = -1;
    c->next_idle = t->free_slots;
    t->free_slots = c;
}

static conn_t *conn_slot(thread_t *t) {
    if (t->free_slots) { /* reuse a free slot; the table stays as small as the peak */
        conn_t *c = t->free_slots;
        t->free_slots = c->next_idle;
        return c;
    }
    if (t->nconns == t->conns_cap) {
        t->conns_cap = t->conns_cap ? 2 * t->conns_cap : 64;
        t->conns = realloc(t->conns, sizeof(conn_t *) * t->conns_cap);
    }
    conn_t *c = calloc(1, sizeof *c);
    c->slot = t->nconns;
    c->fd = -1;
    t->conns[t->nconns++] = c;
    return c;
}

static void parser_reset(conn_t *c) {
    c->pstate = P_HEAD;
    c->hlen = c->llen = 0;
    c->status = c->close_after = c->got_bytes = 0;
    c->remaining = 0;
}

/* One outcome per request: kind 0 = HTTP response (status in c->status), 1 = error, 2 = timeout. */
static void record(thread_t *t, req_t *r, int kind, int status, uint64_t now) {
    second_t *s = sec_of(t, r->due);
    if (kind == 1) s->errors++;
    else if (kind == 2) s->timeouts++;
    else {
        if (status >= 200 && status < 300) s->ok++;
        else if (status == 403) s->blocked++;
        else s->other++;
        uint64_t us = (now - r->due) / 1000;
        if (!s->hist) s->hist = calloc(NBUCKETS, sizeof(uint32_t));
        s->hist[bucket_of(us)]++;
        if (us > s->max_us) s->max_us = us;
        sec_of(t, now)->completed++;
    }
}

static int conn_write(thread_t *t, conn_t *c) { /* 0: all written; 1: wait for EPOLLOUT; -1: failed */
    const char *buf = opt.req[c->req.attack];
    size_t len = opt.reqlen[c->req.attack];
    while (c->woff < len) {
        ssize_t n = send(c->fd, buf + c->woff, len - c->woff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) return 1;
            if (errno == EINTR) continue;
            return -1;
        }
        c->woff += (size_t)n;
    }
    if (!c->req.sent) { /* a retried request is counted once */
        c->req.sent = 1;
        sec_of(t, c->req.due)->sent++;
    }
    return 0;
}

static void set_events(thread_t *t, conn_t *c, uint32_t ev) {
    struct epoll_event e = {.events = ev, .data.u64 = (uint64_t)c->slot << 32 | c->gen};
    epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* A request failed on c: retry it once if c was a reused keep-alive connection the server had
 * closed before reading it (the usual keep-alive race), else count an error. */
static void conn_failed(thread_t *t, conn_t *c, const char *what, int err, uint64_t now) {
    req_t r = c->req;
    int retry = c->requests > 0 && !c->got_bytes && !r.retried;
    conn_close(t, c, 1);
    if (retry) {
        r.retried = 1;
        dispatch(t, r, now);
    } else {
        note_error(t, what, err);
        record(t, &r, 1, 0, now);
    }
}

static void start_request(thread_t *t, conn_t *c, req_t r, uint64_t now) {
    c->req = r;
    c->woff = 0;
    parser_reset(c);
    c->state = C_WRITING;
    int rc = conn_write(t, c);
    if (rc < 0) {
        conn_failed(t, c, "send", errno, now);
        return;
    }
    c->state = rc ? C_WRITING : C_READING;
    if (rc) set_events(t, c, EPOLLIN | EPOLLOUT);
}

static int open_conn(thread_t *t, req_t r, uint64_t now) {
    int fd = socket(opt.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        note_error(t, "socket", errno);
        record(t, &r, 1, 0, now);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (opt.source) {
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one); /* port picked at connect */
        if (bind(fd, (struct sockaddr *)&opt.src, opt.srclen) < 0) {
            note_error(t, "bind to the source address", errno);
            close(fd);
            record(t, &r, 1, 0, now);
            return -1;
        }
    }
    t->connects++;
    conn_t *c = conn_slot(t);
    c->fd = fd;
    c->gen++;
    c->requests = 0;
    c->req = r;
    c->woff = 0;
    parser_reset(c);
    t->open++;
    struct epoll_event e = {.events = EPOLLOUT, .data.u64 = (uint64_t)c->slot << 32 | c->gen};
    if (connect(fd, (struct sockaddr *)&opt.addr, opt.addrlen) < 0 && errno != EINPROGRESS) {
        int err = errno;
        c->state = C_CONNECTING;
        conn_close(t, c, 0);
        note_error(t, "connect", err);
        record(t, &r, 1, 0, now);
        return -1;
    }
    c->state = C_CONNECTING;
    epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &e);
    return 0;
}

static void waitq_push(thread_t *t, req_t r, int front) {
    if (t->wq_len == t->wq_cap) {
        size_t ncap = t->wq_cap ? 2 * t->wq_cap : 1024;
        req_t *q = malloc(sizeof(req_t) * ncap);
        for (size_t k = 0; k < t->wq_len; k++) q[k] = t->waitq[(t->wq_head + k) % t->wq_cap];
        free(t->waitq);
        t->waitq = q;
        t->wq_head = 0;
        t->wq_cap = ncap;
    }
    if (front) {
        t->wq_head = (t->wq_head + t->wq_cap - 1) % t->wq_cap;
        t->waitq[t->wq_head] = r;
    } else {
        t->waitq[(t->wq_head + t->wq_len) % t->wq_cap] = r;
    }
    t->wq_len++;
}

static req_t waitq_pop(thread_t *t) {
    req_t r = t->waitq[t->wq_head];
    t->wq_head = (t->wq_head + 1) % t->wq_cap;
    t->wq_len--;
    return r;
}

/* Give r a connection: an idle one, a new one while under the cap, or a place in the queue. */
static void dispatch(thread_t *t, req_t r, uint64_t now) {
    if (!opt.new_connection && t->idle) {
        conn_t *c = t->idle;
        t->idle = c->next_idle;
        start_request(t, c, r, now);
    } else if (t->open < t->cap) {
        open_conn(t, r, now);
    } else {
        if (!r.retried) sec_of(t, r.due)->queued++;
        waitq_push(t, r, r.retried);
    }
}

/* A connection became free (or the cap has room): serve the oldest waiting request still in time. */
static void serve_waiting(thread_t *t, uint64_t now) {
    while (t->wq_len && (opt.new_connection ? t->open < t->cap : (t->idle || t->open < t->cap))) {
        req_t r = waitq_pop(t);
        if (now >= r.due + (uint64_t)(opt.timeout * 1e9)) record(t, &r, 2, 0, now);
        else dispatch(t, r, now);
    }
}

static void response_done(thread_t *t, conn_t *c, int extra_bytes, uint64_t now) {
    if (c->state == C_WRITING) set_events(t, c, EPOLLIN); /* answered early: the rest is never sent */
    record(t, &c->req, 0, c->status, now);
    c->requests++;
    if (c->close_after || extra_bytes || opt.new_connection) {
        /* Wait for the server's FIN before closing: the server closes first, so the TIME_WAIT
         * state is its own, and new-connection mode does not run out of local ports. */
        t->open--;
        c->state = C_DRAINING;
        c->drain_until = now + DRAIN_NS;
        if (extra_bytes) conn_close(t, c, 1);
    } else {
        c->state = C_IDLE;
        c->next_idle = t->idle;
        t->idle = c;
    }
    serve_waiting(t, now);
}

/* -------------------------------------------------------- response parser */

static int parse_head(conn_t *c) { /* 0 ok, -1 garbled */
    char *p = c->head, *end = c->head + c->hlen;
    if (c->hlen < 12 || strncmp(p, "HTTP/1.", 7) || !isdigit((unsigned char)p[7]) || p[8] != ' ' ||
        !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10]) || !isdigit((unsigned char)p[11]))
        return -1;
    int minor = p[7] - '0', keep_alive = 0, chunked = 0;
    int64_t length = -1;
    c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    p = memchr(p, '\n', (size_t)(end - p)) + 1;
    while (p < end) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        char *lend = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        if (lend == p) break; /* the empty line */
        char *colon = memchr(p, ':', (size_t)(lend - p));
        if (!colon) return -1;
        size_t nl = (size_t)(colon - p);
        char *v = colon + 1;
        while (v < lend && (*v == ' ' || *v == '\t')) v++;
        char value[256];
        size_t vl = (size_t)(lend - v) < sizeof value - 1 ? (size_t)(lend - v) : sizeof value - 1;
        memcpy(value, v, vl);
        value[vl] = 0;
        if (nl == 14 && !strncasecmp(p, "content-length", nl)) {
            char *e;
            errno = 0;
            long long n = strtoll(value, &e, 10);
            if (errno || e == value || n < 0 || (length >= 0 && length != n)) return -1;
            length = n;
        } else if (nl == 17 && !strncasecmp(p, "transfer-encoding", nl)) {
            chunked = strcasestr(value, "chunked") != NULL;
        } else if (nl == 10 && !strncasecmp(p, "connection", nl)) {
            if (strcasestr(value, "close")) c->close_after = 1;
            if (strcasestr(value, "keep-alive")) keep_alive = 1;
        }
        p = eol + 1;
    }
    if (minor == 0 && !keep_alive) c->close_after = 1;
    if ((c->status >= 100 && c->status < 200) || c->status == 204 || c->status == 304) {
        c->remaining = 0;
        c->pstate = P_BODY_LEN;
    } else if (chunked) {
        c->pstate = P_CHUNK_SIZE;
    } else if (length >= 0) {
        c->remaining = length;
        c->pstate = P_BODY_LEN;
    } else {
        c->close_after = 1;
        c->pstate = P_BODY_EOF;
    }
    return 0;
}

/* Feed n bytes; returns 1 when a response is complete (*used: bytes consumed), 0 for more, -1 garbled. */
static int feed(conn_t *c, const char *p, size_t n, size_t *used) {
    size_t k = 0;
    while (k < n || (c->pstate == P_BODY_LEN && c->remaining == 0)) {
        switch (c->pstate) {
        case P_HEAD: {
            size_t take = n - k, from = c->hlen > 3 ? c->hlen - 3 : 0;
            if (c->hlen + take > HEAD_MAX) take = HEAD_MAX - c->hlen;
            if (c->hlen + take > c->hcap) {
                c->hcap = c->hlen + take > 2 * c->hcap ? c->hlen + take : 2 * c->hcap;
                c->head = realloc(c->head, c->hcap);
            }
            memcpy(c->head + c->hlen, p + k, take);
            c->hlen += take;
            char *e = memmem(c->head + from, c->hlen - from, "\r\n\r\n", 4);
            if (!e) {
                if (c->hlen >= HEAD_MAX) return -1;
                k += take;
                break;
            }
            size_t head_end = (size_t)(e - c->head) + 4;
            k += take - (c->hlen - head_end); /* bytes past the head go back to the body states */
            c->hlen = head_end;
            if (parse_head(c) < 0) return -1;
            if (c->status >= 100 && c->status < 200) { /* an interim response: a real one follows */
                parser_reset(c);
                c->got_bytes = 1;
            }
            break;
        }
        case P_BODY_LEN: {
            size_t take = (size_t)c->remaining < n - k ? (size_t)c->remaining : n - k;
            c->remaining -= (int64_t)take;
            k += take;
            if (c->remaining == 0) {
                *used = k;
                return 1;
            }
            break;
        }
        case P_CHUNK_SIZE:
        case P_TRAILER:
        case P_CHUNK_CRLF: {
            char ch = p[k++];
            if (ch != '\n') {
                if (c->llen == LINE_MAX_ - 1) return -1;
                c->line[c->llen++] = ch;
                break;
            }
            if (c->llen && c->line[c->llen - 1] == '\r') c->llen--;
            c->line[c->llen] = 0;
            size_t len = c->llen;
            c->llen = 0;
            if (c->pstate == P_CHUNK_CRLF) {
                if (len) return -1;
                c->pstate = P_CHUNK_SIZE;
            } else if (c->pstate == P_TRAILER) {
                if (len == 0) {
                    *used = k;
                    return 1;
                }
            } else {
                char *e;
                errno = 0;
                long long size = strtoll(c->line, &e, 16);
                if (errno || e == c->line || size < 0 || (*e && *e != ';' && *e != ' ')) return -1;
                if (size == 0) c->pstate = P_TRAILER;
                else {
                    c->remaining = size;
                    c->pstate = P_CHUNK_DATA;
                }
            }
            break;
        }
        case P_CHUNK_DATA: {
            size_t take = (size_t)c->remaining < n - k ? (size_t)c->remaining : n - k;
            c->remaining -= (int64_t)take;
            k += take;
            if (c->remaining == 0) c->pstate = P_CHUNK_CRLF;
            break;
        }
        case P_BODY_EOF:
            k = n; /* the body runs to the end of the connection */
            break;
        }
    }
    *used = k;
    return 0;
}

/* ------------------------------------------------------------------ loop */

static void on_event(thread_t *t, conn_t *c, uint32_t ev, uint64_t now) {
    static __thread char buf[65536];
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            req_t r = c->req;
            conn_close(t, c, 0);
            note_error(t, "connect", err);
            record(t, &r, 1, 0, now);
            serve_waiting(t, now);
            return;
        }
        c->state = C_WRITING;
        int rc = conn_write(t, c);
        if (rc < 0) {
            conn_failed(t, c, "send", errno, now);
            serve_waiting(t, now);
            return;
        }
        c->state = rc ? C_WRITING : C_READING;
        set_events(t, c, rc ? EPOLLIN | EPOLLOUT : EPOLLIN);
        return;
    }
    if (c->state == C_WRITING && (ev & EPOLLOUT)) {
        int rc = conn_write(t, c);
        if (rc < 0) {
            conn_failed(t, c, "send", errno, now);
            serve_waiting(t, now);
            return;
        }
        if (rc == 0) {
            c->state = C_READING;
            set_events(t, c, EPOLLIN);
        }
    }
    if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        int err = n < 0 ? errno : 0;
        if (c->state == C_DRAINING || c->state == C_IDLE) {
            if (n > 0 && c->state == C_DRAINING) continue; /* discard */
            conn_close(t, c, n > 0); /* the server closed an idle connection, or sent bytes unasked */
            serve_waiting(t, now);
            return;
        }
        if (n <= 0) { /* end of connection while a request was in progress */
            if (c->state == C_READING && c->pstate == P_BODY_EOF) {
                req_t r = c->req;
                int status = c->status;
                conn_close(t, c, 0);
                record(t, &r, 0, status, now);
            } else {
                conn_failed(t, c, err ? "receive" : "connection closed before a full response", err, now);
            }
            serve_waiting(t, now);
            return;
        }
        if (c->state == C_WRITING) c->close_after = 1; /* answered before the whole request left (413, say) */
        c->got_bytes = 1;
        size_t used;
        int rc = feed(c, buf, (size_t)n, &used);
        if (rc < 0) {
            note_error(t, "garbled response", 0);
            req_t r = c->req;
            conn_close(t, c, 1);
            record(t, &r, 1, 0, now);
            serve_waiting(t, now);
            return;
        }
        if (rc == 1) { /* c may now carry the next request, or be closed and reused: epoll reports the rest */
            response_done(t, c, used < (size_t)n, now);
            return;
        }
    }
}

static void scan(thread_t *t, uint64_t now) {
    uint64_t tmo = (uint64_t)(opt.timeout * 1e9);
    for (int k = 0; k < t->nconns; k++) {
        conn_t *c = t->conns[k];
        if ((c->state == C_CONNECTING || c->state == C_WRITING || c->state == C_READING) && now >= c->req.due + tmo) {
            req_t r = c->req;
            conn_close(t, c, 1);
            record(t, &r, 2, 0, now);
        } else if (c->state == C_DRAINING && now >= c->drain_until) {
            conn_close(t, c, 1);
        }
    }
    while (t->wq_len && now >= t->waitq[t->wq_head].due + tmo) {
        req_t r = waitq_pop(t);
        record(t, &r, 2, 0, now);
    }
    serve_waiting(t, now);
}

static void arm(thread_t *t, uint64_t at) {
    if (at == t->armed) return;
    struct itimerspec its = {.it_value = {(time_t)(at / 1000000000ULL), (long)(at % 1000000000ULL)}};
    timerfd_settime(t->tfd, TFD_TIMER_ABSTIME, &its, NULL);
    t->armed = at;
}

#ifdef SYS_epoll_pwait2
static volatile int have_pwait2 = 1;
#endif

/* Wait for events until `wake` (ns): epoll_pwait2's ns timeout where the kernel has it (5.11+),
 * else the timerfd, since epoll_wait's ms timeout would make requests up to 1 ms late. */
static int wait_events(thread_t *t, struct epoll_event *evs, int max, uint64_t wake, uint64_t now) {
    if (wake <= now) return epoll_wait(t->ep, evs, max, 0);
#ifdef SYS_epoll_pwait2
    if (have_pwait2) {
        struct timespec ts = {(time_t)((wake - now) / 1000000000ULL), (long)((wake - now) % 1000000000ULL)};
        int n = (int)syscall(SYS_epoll_pwait2, t->ep, evs, max, &ts, NULL, 0);
        if (n >= 0 || errno != ENOSYS) return n;
        have_pwait2 = 0;
    }
#endif
    arm(t, wake);
    return epoll_wait(t->ep, evs, max, -1);
}

static void *run_thread(void *arg) {
    thread_t *t = arg;
    uint64_t total = sched_count(), i = (uint64_t)t->id, next_scan = start_ns;
    int cursor = 0, done = i >= total;
    uint64_t next_due = done ? 0 : start_ns + (uint64_t)(sched_time(i, &cursor) * 1e9);
    uint64_t end_ns = start_ns + (uint64_t)(opt.duration * 1e9);
    struct epoll_event evs[256];
    for (;;) {
        uint64_t now = now_ns();
        if (stop_flag && !done) done = 1;
        int burst = 0; /* bounded, so that answers are read even while the loop is behind */
        while (!done && next_due <= now && burst++ < 256) {
            req_t r = {i, next_due, is_attack(i), 0, 0};
            second_t *s = sec_of(t, next_due);
            s->offered++;
            s->attacks += (uint64_t)r.attack;
            uint64_t late = now - next_due;
            if (late > LATE_NS) s->late++;
            if (late / 1000 > s->late_max_us) s->late_max_us = late / 1000;
            dispatch(t, r, now);
            i += (uint64_t)opt.threads;
            if (i >= total) done = 1;
            else {
                next_due = start_ns + (uint64_t)(sched_time(i, &cursor) * 1e9);
                if (next_due >= end_ns) done = 1;
            }
        }
        if (now >= next_scan) {
            scan(t, now);
            next_scan = now + SCAN_NS;
        }
        if (done) { /* finished once nothing is in flight, queued or closing */
            int busy = t->wq_len > 0;
            for (int k = 0; k < t->nconns && !busy; k++)
                busy = t->conns[k]->state != C_FREE && t->conns[k]->state != C_IDLE;
            if (!busy) break;
        }
        uint64_t wake = next_scan;
        if (!done && next_due < wake) wake = next_due;
        if (burst > 256) wake = now;
        int n = wait_events(t, evs, 256, wake, now);
        now = now_ns();
        for (int k = 0; k < n; k++) {
            if (evs[k].data.u64 == TIMER_EVENT) {
                uint64_t x;
                if (read(t->tfd, &x, sizeof x) < 0) { /* spurious: nothing to do */ }
                t->armed = 0;
            } else {
                conn_t *c = t->conns[evs[k].data.u64 >> 32];
                if (c->state != C_FREE && c->gen == (uint32_t)evs[k].data.u64) on_event(t, c, evs[k].events, now);
            }
        }
    }
    for (int k = 0; k < t->nconns; k++)
        if (t->conns[k]->state != C_FREE) conn_close(t, t->conns[k], 0);
    return NULL;
}

/* ---------------------------------------------------------------- output */

static void print_stats(const char *lead, second_t *s, int with_hist) {
    uint64_t answered = s->ok + s->blocked + s->other;
    double q[3] = {0.50, 0.90, 0.99}, v[3] = {0, 0, 0};
    int qi = 0;
    uint64_t seen = 0;
    for (int b = 0; b < NBUCKETS && qi < 3 && s->hist; b++) {
        seen += s->hist[b];
        while (qi < 3 && seen > 0 && (double)seen >= q[qi] * (double)answered) {
            double mid = bucket_mid(b);
            v[qi++] = mid < (double)s->max_us ? mid : (double)s->max_us;
        }
    }
    printf("%s\"offered\":%lu,\"attacks\":%lu,\"sent\":%lu,\"ok\":%lu,\"blocked\":%lu,\"other\":%lu,"
           "\"errors\":%lu,\"timeouts\":%lu,\"late\":%lu,\"late_max_ms\":%.3f,\"queued\":%lu,\"completed\":%lu",
           lead, s->offered, s->attacks, s->sent, s->ok, s->blocked, s->other, s->errors, s->timeouts, s->late,
           (double)s->late_max_us / 1000, s->queued, s->completed);
    const char *names[3] = {"p50_ms", "p90_ms", "p99_ms"};
    for (int k = 0; k < 3; k++) {
        if (answered) printf(",\"%s\":%.3f", names[k], v[k] / 1000);
        else printf(",\"%s\":null", names[k]);
    }
    if (answered) printf(",\"max_ms\":%.3f", (double)s->max_us / 1000);
    else printf(",\"max_ms\":null");
    if (with_hist) {
        printf(",\"hist\":[");
        int first = 1;
        for (int b = 0; b < NBUCKETS && s->hist; b++)
            if (s->hist[b]) {
                printf("%s[%lu,%u]", first ? "" : ",", bucket_low(b), s->hist[b]);
                first = 0;
            }
        printf("]");
    }
}

static void merge(second_t *into, const second_t *s) {
#define ADD(f) into->f += s->f
    ADD(offered); ADD(attacks); ADD(sent); ADD(ok); ADD(blocked); ADD(other);
    ADD(errors); ADD(timeouts); ADD(late); ADD(queued); ADD(completed);
#undef ADD
    if (s->max_us > into->max_us) into->max_us = s->max_us;
    if (s->late_max_us > into->late_max_us) into->late_max_us = s->late_max_us;
    if (s->hist) {
        if (!into->hist) into->hist = calloc(NBUCKETS, sizeof(uint32_t));
        for (int b = 0; b < NBUCKETS; b++) into->hist[b] += s->hist[b];
    }
}

static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
        else putchar(*s);
    }
    putchar('"');
}

static void on_signal(int sig) { (void)sig; stop_flag = 1; }

static void usage(void) {
    puts("usage: sfcload [options] -s DURATION:RATE[:END_RATE] [-s ...] http://HOST[:PORT][/PATH]\n"
         "  -s, --stage D:R0[:R1]     a stage of D s whose rate goes linearly from R0 to R1 requests/s\n"
         "  -c, --connections N       at most N connections at once (default 64)\n"
         "  -n, --new-connection      one TCP connection per request (Connection: close)\n"
         "  -b, --body-bytes N        POST a body of N bytes (default 0: GET)\n"
         "  -a, --attack-share F      this fraction of requests goes to the attack path (default 0)\n"
         "  -A, --attack-path P       default /?id=1%27%20OR%20%271%27=%271 (an SQL injection OWASP CRS blocks)\n"
         "  -S, --seed N              seed of the attack choice (default 0)\n"
         "  -T, --timeout S           a request not answered S s after its due time times out (default 5)\n"
         "  -d, --max-duration S      stop offering load after S s even if the profile is longer\n"
         "  -B, --source ADDR         bind connections to this local address\n"
         "  -t, --threads N           event loops (default 1); request i goes to loop i mod N");
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"stage", 1, 0, 's'}, {"connections", 1, 0, 'c'}, {"new-connection", 0, 0, 'n'},
        {"body-bytes", 1, 0, 'b'}, {"attack-share", 1, 0, 'a'}, {"attack-path", 1, 0, 'A'},
        {"seed", 1, 0, 'S'}, {"timeout", 1, 0, 'T'}, {"max-duration", 1, 0, 'd'}, {"source", 1, 0, 'B'},
        {"threads", 1, 0, 't'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    double cap = INFINITY, v;
    opt.connections = 64;
    opt.threads = 1;
    opt.timeout = 5;
    opt.attack_path = "/?id=1%27%20OR%20%271%27=%271";
    int ch;
    while ((ch = getopt_long(argc, argv, "s:c:nb:a:A:S:T:d:B:t:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': add_stage(optarg); break;
        case 'c':
            v = parse_num(optarg, "--connections");
            if (v < 1 || v > 1e6 || v != floor(v)) die("--connections must be a whole number in [1, 1000000]");
            opt.connections = (int)v;
            break;
        case 'n': opt.new_connection = 1; break;
        case 'b':
            v = parse_num(optarg, "--body-bytes");
            if (v < 0 || v > 1 << 30 || v != floor(v)) die("--body-bytes must be a whole number in [0, 2^30]");
            opt.body_bytes = (long)v;
            break;
        case 'a':
            opt.attack_share = parse_num(optarg, "--attack-share");
            if (opt.attack_share < 0 || opt.attack_share > 1) die("--attack-share must be in [0, 1]");
            break;
        case 'A':
            if (optarg[0] != '/' || strpbrk(optarg, " \r\n")) die("--attack-path must start with / and hold no spaces");
            opt.attack_path = optarg;
            break;
        case 'S': opt.seed = strtoull(optarg, NULL, 0); break;
        case 'T':
            opt.timeout = parse_num(optarg, "--timeout");
            if (opt.timeout <= 0 || opt.timeout > 3600) die("--timeout must be in (0, 3600] s");
            break;
        case 'd':
            cap = parse_num(optarg, "--max-duration");
            if (cap <= 0) die("--max-duration must be positive");
            break;
        case 'B': opt.source = optarg; break;
        case 't':
            v = parse_num(optarg, "--threads");
            if (v < 1 || v > 256 || v != floor(v)) die("--threads must be a whole number in [1, 256]");
            opt.threads = (int)v;
            break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (optind != argc - 1) die("give exactly one URL (try --help)");
    opt.url = argv[optind];
    if (opt.threads > opt.connections) die("--threads (%d) exceeds --connections (%d)", opt.threads, opt.connections);
    finish_profile(cap);
    parse_url(opt.url);
    if (strpbrk(opt.path, " \r\n")) die("URL path must hold no spaces");
    if (opt.source) parse_source(opt.source);
    build_requests();

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    nseconds = (int)ceil(opt.duration + opt.timeout) + 3;
    thread_t *th = calloc((size_t)opt.threads, sizeof *th);
    pthread_t *pt = calloc((size_t)opt.threads, sizeof *pt);
    start_ns = now_ns() + 20000000; /* 20 ms for the threads to start */
    for (int k = 0; k < opt.threads; k++) {
        thread_t *t = &th[k];
        t->id = k;
        t->cap = opt.connections / opt.threads + (k < opt.connections % opt.threads);
        t->sec = calloc((size_t)nseconds, sizeof(second_t));
        t->ep = epoll_create1(EPOLL_CLOEXEC);
        t->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (t->ep < 0 || t->tfd < 0 || !t->sec) die("cannot set up an event loop: %s", strerror(errno));
        struct epoll_event e = {.events = EPOLLIN, .data.u64 = TIMER_EVENT};
        epoll_ctl(t->ep, EPOLL_CTL_ADD, t->tfd, &e);
        if (pthread_create(&pt[k], NULL, run_thread, t)) die("cannot start thread %d", k);
    }
    for (int k = 0; k < opt.threads; k++) pthread_join(pt[k], NULL);
    uint64_t end = now_ns();

    second_t total = {0}, *merged = calloc((size_t)nseconds, sizeof(second_t));
    uint64_t connects = 0;
    const char *first_error = "";
    for (int k = 0; k < opt.threads; k++) {
        for (int s = 0; s < nseconds; s++) merge(&merged[s], &th[k].sec[s]);
        connects += th[k].connects;
        if (!first_error[0]) first_error = th[k].first_error;
    }
    int shown = (int)ceil(opt.duration);
    for (int s = shown; s < nseconds; s++)
        if (merged[s].completed) shown = s + 1; /* late answers get their own rows */
    for (int s = 0; s < shown; s++) {
        char lead[32];
        snprintf(lead, sizeof lead, "{\"second\":%d,", s);
        print_stats(lead, &merged[s], 1);
        printf("}\n");
        merge(&total, &merged[s]);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"summary\":true,\"version\":%d,\"url\":", VERSION);
    json_string(opt.url);
    printf(",\"mode\":\"%s\",\"threads\":%d,\"connections\":%d,\"body_bytes\":%ld,\"attack_share\":%g,"
           "\"timeout_s\":%g,\"duration_s\":%.6f,\"seconds\":%d,",
           opt.new_connection ? "new-connection" : "keep-alive", opt.threads, opt.connections, opt.body_bytes,
           opt.attack_share, opt.timeout, opt.duration, shown);
    print_stats("", &total, 0);
    printf(",\"elapsed_s\":%.6f,\"connects\":%lu,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"interrupted\":%s,"
           "\"first_error\":",
           (double)(end - start_ns) / 1e9, connects, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
           ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, stop_flag ? "true" : "false");
    json_string(first_error);
    printf("}\n");
    fflush(stdout);
    return 0;
}
