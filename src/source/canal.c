/* source/canal: the Canal conversation over one TCP connection. */
#include "source/canal.h"
#include "decode/wire.h"
#include "source/frame.h"
#include "source/packet.h"
#include "source/scramble.h"
#include "source/zk.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/parse.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#define CANAL_MAX_OUTSTANDING 64
#define CANAL_READ_MARGIN_MS 30000
#define CANAL_TAKE_FRAME_MIN ((size_t)64 << 10) /* a MESSAGES body from here on keeps its frame buffer */

struct canal_client {
    canal_opts o;
    char client_id[16];
    char *addrs;           /* owned copy of the list */
    char *addr_list[16];
    size_t n_addrs;
    size_t next_addr;
    char peer[300];
    zk_follow *zk;         /* NULL without ZooKeeper */
    char zk_failed[ZK_ADDR_MAX]; /* the ZooKeeper-named server whose connect failed last */
    char zk_logged[ZK_ADDR_MAX]; /* the last running server logged */
    int fd;
    ce_buf rx;
    ce_buf tx;
    int64_t outstanding[CANAL_MAX_OUTSTANDING]; /* batch ids fetched, not yet acked (FIFO) */
    size_t out_head;
    size_t out_count;
    bool hold;             /* canal_hold: reads ignore the stop flag */
};

canal_client *canal_new(const canal_opts *opts)
{
    canal_client *c = ce_calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->o = *opts;
    if (c->o.max_frame == 0)
        c->o.max_frame = FRAME_DEFAULT_MAX;
    if (c->o.connect_timeout_ms <= 0)
        c->o.connect_timeout_ms = 5000;
    snprintf(c->client_id, sizeof c->client_id, "%ld", opts->client_id);
    c->fd = -1;
    ce_buf_init(&c->rx, c->o.max_frame);
    ce_buf_init(&c->tx, c->o.max_frame + FRAME_HEADER_LEN);
    c->addrs = ce_strdup(opts->addresses);
    if (c->addrs == NULL) {
        ce_free(c);
        return NULL;
    }
    char *save = NULL;
    for (char *tok = strtok_r(c->addrs, ",", &save); tok && c->n_addrs < 16; tok = strtok_r(NULL, ",", &save))
        c->addr_list[c->n_addrs++] = ce_trim(tok);
    return c;
}

void canal_close(canal_client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->out_count = 0;
    c->out_head = 0;
}

void canal_free(canal_client *c)
{
    if (c == NULL)
        return;
    canal_close(c);
    zk_close(c->zk);
    ce_buf_free(&c->rx);
    ce_buf_free(&c->tx);
    ce_free(c->addrs);
    ce_free(c);
}

const char *canal_peer(const canal_client *c) { return c->peer; }

/* The batch and its entry array in one allocation; the entries are slices
 * of the MESSAGES body, which lies in the Packet it owns (as unpacked by
 * protobuf-c), in the frame buffer it owns, in the caller's bytes (borrowed)
 * or in a copy right after the entries. */
typedef struct canal_batch_mem {
    canal_batch b;
    Canalpb__Packet *pkt;
    void *frame;
    canal_entry entries[];
} canal_batch_mem;

void canal_batch_free(canal_batch *b)
{
    if (b == NULL)
        return;
    canal_batch_mem *bm = b->priv;
    if (bm->pkt)
        canalpb__packet__free_unpacked(bm->pkt, NULL);
    ce_free(bm->frame);
    ce_free(bm);
}

static void canal_batch_put(void *ud, size_t i, const uint8_t *p, size_t len)
{
    canal_batch_mem *bm = ud;
    if (i < bm->b.n)
        bm->entries[i] = (canal_entry){.p = p, .len = len};
}

/* The batch of body: copied when `copy`, else the bytes stay where they are
 * (their owner, if any, is set by the caller on success). */
static canal_batch_mem *canal_batch_walk(const uint8_t *body, size_t len, bool copy, char *err, size_t errlen)
{
    int64_t id = 0;
    size_t n = 0;
    static const uint8_t none[1];
    if (body == NULL)
        body = none; /* len is 0 */
    if (wire_messages(body, len, &id, &n, NULL, NULL) != WIRE_OK) {
        snprintf(err, errlen, "malformed MESSAGES body (%zu bytes)", len);
        return NULL;
    }
    size_t extra = copy ? len : 0;
    if (n > (SIZE_MAX - sizeof(canal_batch_mem) - extra) / sizeof(canal_entry)) {
        snprintf(err, errlen, "out of memory for a batch of %zu entries", n);
        return NULL;
    }
    size_t head = sizeof(canal_batch_mem) + n * sizeof(canal_entry);
    canal_batch_mem *bm = ce_malloc(head + extra);
    if (bm == NULL) {
        snprintf(err, errlen, "out of memory for a batch of %zu entries (%zu bytes)", n, len);
        return NULL;
    }
    const uint8_t *src = body;
    if (extra) {
        src = (const uint8_t *)bm + head;
        memcpy((uint8_t *)bm + head, body, len);
    }
    bm->pkt = NULL;
    bm->frame = NULL;
    bm->b = (canal_batch){.id = id, .n = n, .entries = bm->entries, .bytes = len, .priv = bm};
    /* the same walk on the bytes the batch keeps: the entries are slices of them */
    size_t again = 0;
    (void)wire_messages(src, len, &id, &again, canal_batch_put, bm);
    return bm;
}

canal_batch *canal_batch_parse(const uint8_t *body, size_t len, Canalpb__Packet *owner, char *err, size_t errlen)
{
    canal_batch_mem *bm = canal_batch_walk(body, len, owner == NULL, err, errlen);
    if (bm == NULL)
        return NULL;
    bm->pkt = owner;
    return &bm->b;
}

canal_batch *canal_batch_parse_frame(const uint8_t *body, size_t len, void *frame, char *err, size_t errlen)
{
    canal_batch_mem *bm = canal_batch_walk(body, len, false, err, errlen);
    if (bm == NULL)
        return NULL;
    bm->frame = frame;
    return &bm->b;
}

static void canal_set_timeout(int fd, long ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static bool canal_stopping(const canal_client *c) { return c->o.stop != NULL && *c->o.stop != 0; }

void canal_hold(canal_client *c, int on) { c->hold = on != 0; }

/* The stop flag the reads watch: none while the caller holds batches. */
static volatile sig_atomic_t *canal_read_stop(const canal_client *c) { return c->hold ? NULL : c->o.stop; }

#define CANAL_CONNECT_STOPPED (-2)

/* Waits for a non-blocking connect in poll slices: 0 connected, -1 failed
 * (errno set), CANAL_CONNECT_STOPPED when a stop was requested. */
static int canal_wait_connected(const canal_client *c, int fd)
{
    long left = c->o.connect_timeout_ms;
    for (;;) {
        if (canal_stopping(c))
            return CANAL_CONNECT_STOPPED;
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        long slice = left < FRAME_WAIT_SLICE_MS ? left : FRAME_WAIT_SLICE_MS;
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int r = poll(&pfd, 1, (int)slice);
        if (r < 0 && errno == EINTR)
            continue; /* a signal: the stop flag is looked at above */
        if (r < 0)
            return -1;
        if (r == 0) {
            left -= slice;
            continue;
        }
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            return -1;
        if (soerr != 0) {
            errno = soerr;
            return -1;
        }
        return 0;
    }
}

/* Non-blocking connect with a deadline, then back to blocking. 0, -1 (err
 * filled) or CANAL_CONNECT_STOPPED. */
static int canal_tcp_connect(canal_client *c, const char *host, int port, char *err, size_t errlen)
{
    bool stopped = false;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (r != 0 && errno == EINPROGRESS) {
            r = canal_wait_connected(c, fd);
            if (r == CANAL_CONNECT_STOPPED) {
                snprintf(err, errlen, "connect abandoned: stop requested");
                close(fd);
                fd = -1;
                stopped = true;
                break;
            }
        }
        if (r == 0) {
            fcntl(fd, F_SETFL, fl);
            break;
        }
        snprintf(err, errlen, "connect failed: %s", strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return stopped ? CANAL_CONNECT_STOPPED : -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    canal_set_timeout(fd, c->o.fetch_timeout_ms + CANAL_READ_MARGIN_MS);
    c->fd = fd;
    return 0;
}

static canal_rc canal_send(canal_client *c, Canalpb__PacketType type, const ProtobufCMessage *body, char *err,
                           size_t errlen)
{
    ce_buf_reset(&c->tx);
    if (packet_encode(type, body, &c->tx) != 0) {
        snprintf(err, errlen, "cannot encode packet type %d", (int)type);
        return CANAL_ERR_IO;
    }
    size_t off = FRAME_HEADER_LEN;
    frame_io io = frame_write(c->fd, c->tx.data + off, c->tx.len - off, err, errlen);
    return io == FRAME_IO_OK ? CANAL_OK : CANAL_ERR_IO;
}

/* Reads one packet; gives up on a stop request (CANAL_ERR_INTR) and after
 * the GET timeout plus a margin without data. */
static canal_rc canal_recv(canal_client *c, packet_view *pv, char *err, size_t errlen)
{
    frame_io io = frame_read_wait(c->fd, &c->rx, c->o.max_frame, canal_read_stop(c),
                                  c->o.fetch_timeout_ms + CANAL_READ_MARGIN_MS, err, errlen);
    if (io == FRAME_IO_EINTR || io == FRAME_IO_STOPPED)
        return CANAL_ERR_INTR;
    if (io == FRAME_IO_TOO_BIG)
        return CANAL_ERR_TOO_BIG;
    if (io != FRAME_IO_OK)
        return CANAL_ERR_IO;
    if (packet_decode(c->rx.data, c->rx.len, pv, err, errlen) != 0)
        return CANAL_ERR_IO;
    return CANAL_OK;
}

/* Reads the ACK that answers auth/subscribe. */
static canal_rc canal_expect_ack(canal_client *c, const char *what, char *err, size_t errlen)
{
    packet_view pv;
    canal_rc rc = canal_recv(c, &pv, err, errlen);
    if (rc != CANAL_OK)
        return rc;
    int code = 0;
    char msg[512];
    if (pv.type != CANALPB__PACKET_TYPE__ACK) {
        snprintf(err, errlen, "%s: expected an ACK packet, got type %d", what, (int)pv.type);
        rc = CANAL_ERR_IO;
    } else if (packet_decode_ack(&pv, &code, msg, sizeof msg) != 0) {
        snprintf(err, errlen, "%s: malformed ACK body", what);
        rc = CANAL_ERR_IO;
    } else if (code != 0) {
        msg[strcspn(msg, "\r\n")] = '\0'; /* server exceptions come with their Java stack trace */
        snprintf(err, errlen, "%s refused: error %d: %s", what, code, msg);
        if (strstr(msg, "should start first") != NULL)
            rc = CANAL_ERR_STANDBY;
        else if (strstr(msg, "auth") != NULL || strstr(msg, "passwd") != NULL || strstr(msg, "password") != NULL)
            rc = CANAL_ERR_AUTH;
        else
            rc = CANAL_ERR_SERVER;
    }
    packet_free(&pv);
    return rc;
}

static canal_rc canal_handshake(canal_client *c, char *err, size_t errlen)
{
    packet_view pv;
    canal_rc rc = canal_recv(c, &pv, err, errlen);
    if (rc != CANAL_OK)
        return rc;
    Canalpb__Handshake *hs = NULL;
    if (pv.type != CANALPB__PACKET_TYPE__HANDSHAKE) {
        snprintf(err, errlen, "expected HANDSHAKE, got packet type %d", (int)pv.type);
        rc = CANAL_ERR_IO;
        goto out;
    }
    hs = canalpb__handshake__unpack(NULL, pv.body_len, pv.body);
    if (hs == NULL) {
        snprintf(err, errlen, "malformed HANDSHAKE body");
        rc = CANAL_ERR_IO;
        goto out;
    }
    char scrambled[SCRAMBLE_HEX_LEN + 1];
    scramble411_hex(c->o.password, hs->seeds.data, hs->seeds.len, scrambled);
    Canalpb__ClientAuth ca = CANALPB__CLIENT_AUTH__INIT;
    ca.username = (char *)c->o.username;
    ca.password.data = (uint8_t *)scrambled;
    ca.password.len = strlen(scrambled);
    /* No destination/client_id/filter here (as Canal's own client): a server given them subscribes
     * during authentication, and an HA standby then fails with "should start first" in a handler
     * that just closes the connection (Canal 1.1.7). SUBSCRIPTION carries them and gets the error
     * as an ACK packet, so canal_connect can tell a standby from a lost connection. */
    rc = canal_send(c, CANALPB__PACKET_TYPE__CLIENTAUTHENTICATION, &ca.base, err, errlen);
    if (rc == CANAL_OK)
        rc = canal_expect_ack(c, "authentication", err, errlen);
    if (rc == CANAL_ERR_SERVER || rc == CANAL_ERR_AUTH) {
        char tmp[600];
        snprintf(tmp, sizeof tmp, "%s", err);
        snprintf(err, errlen, "authentication failed for user '%s' (%s)", c->o.username, tmp);
        rc = CANAL_ERR_AUTH;
    }
out:
    if (hs)
        canalpb__handshake__free_unpacked(hs, NULL);
    packet_free(&pv);
    return rc;
}

static bool canal_zk_on(const canal_client *c) { return c->o.zookeeper != NULL && c->o.zookeeper[0] != '\0'; }

/* Asks ZooKeeper for the running server. Returns the address to use (in
 * `buf`) or NULL to take the next of the list; `note` says why not. */
static const char *canal_zk_pick(canal_client *c, char *buf, size_t buflen, char *note, size_t notelen)
{
    char zerr[600] = "";
    int zr = zk_running(c->zk, buf, buflen, zerr, sizeof zerr);
    if (zr == 1 && strcmp(buf, c->zk_logged) != 0) {
        ce_log(CE_LOG_INFO, "source", "zookeeper %s: destination %s runs on %s (%s)", c->o.zookeeper,
               c->o.destination, buf, zk_path(c->zk));
        snprintf(c->zk_logged, sizeof c->zk_logged, "%s", buf);
    }
    if (zr == 1 && strcmp(buf, c->zk_failed) != 0)
        return buf;
    if (zr == 1)
        snprintf(note, notelen, "zookeeper names %s, which failed last time: trying the address list once", buf);
    else if (zr == 0)
        snprintf(note, notelen, "zookeeper %s names no running server (%s): trying the address list", c->o.zookeeper,
                 zk_path(c->zk));
    else
        snprintf(note, notelen, "%s: trying the address list", zerr);
    if (zr < 0)
        ce_log(CE_LOG_WARN, "source", "destination %s: %s", c->o.destination, note);
    c->zk_failed[0] = '\0';
    if (zr != 1)
        c->zk_logged[0] = '\0'; /* log the next server named */
    return NULL;
}

canal_rc canal_connect(canal_client *c, char *err, size_t errlen)
{
    canal_close(c);
    char zkaddr[ZK_ADDR_MAX] = "";
    char note[700] = "";
    const char *addr = NULL;
    if (canal_zk_on(c) && c->zk == NULL) {
        /* e.g. a host name that does not resolve (yet): use the list, try again on the next connect */
        char zerr[600] = "";
        c->zk = zk_open(c->o.zookeeper, c->o.destination, c->o.zookeeper_timeout_ms, zerr, sizeof zerr);
        if (c->zk == NULL) {
            snprintf(note, sizeof note, "%s: trying the address list", zerr);
            ce_log(CE_LOG_WARN, "source", "destination %s: %s", c->o.destination, note);
        }
    }
    if (c->zk != NULL)
        addr = canal_zk_pick(c, zkaddr, sizeof zkaddr, note, sizeof note);
    if (addr == NULL) {
        addr = c->addr_list[c->next_addr % c->n_addrs];
        c->next_addr = (c->next_addr + 1) % c->n_addrs;
    }
    snprintf(c->peer, sizeof c->peer, "%s", addr);
    char host[256];
    int port = 0;
    char detail[700] = "";
    canal_rc rc = CANAL_ERR_IO;
    if (ce_parse_hostport(addr, host, sizeof host, &port) != 0) {
        snprintf(detail, sizeof detail, "bad address");
        goto out;
    }
    int tr = canal_tcp_connect(c, host, port, detail, sizeof detail);
    if (tr != 0) {
        rc = tr == CANAL_CONNECT_STOPPED ? CANAL_ERR_INTR : CANAL_ERR_IO;
        goto out;
    }
    rc = canal_handshake(c, detail, sizeof detail);
    if (rc != CANAL_OK)
        goto out;
    Canalpb__Sub sub = CANALPB__SUB__INIT;
    sub.destination = (char *)c->o.destination;
    sub.client_id = c->client_id;
    sub.filter = (char *)c->o.filter;
    rc = canal_send(c, CANALPB__PACKET_TYPE__SUBSCRIPTION, &sub.base, detail, sizeof detail);
    if (rc == CANAL_OK)
        rc = canal_expect_ack(c, "subscribe", detail, sizeof detail);
    if (rc != CANAL_OK)
        goto out;
    if (c->o.no_rollback)
        goto out;
    /* Return every un-acked batch to the queue; no reply on success. */
    Canalpb__ClientRollback rb = CANALPB__CLIENT_ROLLBACK__INIT;
    rb.destination = (char *)c->o.destination;
    rb.client_id = c->client_id;
    rb.batch_id = 0;
    rc = canal_send(c, CANALPB__PACKET_TYPE__CLIENTROLLBACK, &rb.base, detail, sizeof detail);
out:
    if (addr == zkaddr)
        snprintf(c->zk_failed, sizeof c->zk_failed, "%s", rc == CANAL_OK ? "" : zkaddr);
    if (rc != CANAL_OK) {
        snprintf(err, errlen, "canal %s (destination %s): %s%s%s%s", c->peer, c->o.destination, detail,
                 note[0] ? " (" : "", note, note[0] ? ")" : "");
        canal_close(c);
    }
    return rc;
}

/* Nonzero (err filled) when ZooKeeper now names another running server than
 * the one connected. A vanished node alone does not count: the connection
 * shows by itself whether that server still serves. */
static int canal_zk_moved(canal_client *c, char *err, size_t errlen)
{
    if (c->zk == NULL || !zk_changed(c->zk))
        return 0;
    char now[ZK_ADDR_MAX];
    char zerr[600] = "";
    if (zk_running(c->zk, now, sizeof now, zerr, sizeof zerr) != 1 || strcmp(now, c->peer) == 0)
        return 0;
    snprintf(err, errlen, "canal %s (destination %s): zookeeper %s names %s as the running server now (%s)", c->peer,
             c->o.destination, c->o.zookeeper, now, zk_path(c->zk));
    return 1;
}

canal_rc canal_get(canal_client *c, canal_batch **out, char *err, size_t errlen)
{
    return canal_get_mode(c, CANAL_GET_WAIT, out, err, errlen);
}

/* The batch of the MESSAGES packet pv (walked on c->rx). A big body is not
 * copied: the batch takes the frame buffer (shrunk to the frame), and the
 * next frame is read into a new one; a small one is copied and the buffer
 * stays for the next frame. */
static canal_batch *canal_batch_of_rx(canal_client *c, const packet_view *pv, char *err, size_t errlen)
{
    if (pv->body == NULL || pv->body_len < CANAL_TAKE_FRAME_MIN)
        return canal_batch_parse(pv->body, pv->body_len, NULL, err, errlen);
    size_t off = (size_t)(pv->body - c->rx.data);
    uint8_t *frame = c->rx.data;
    size_t cap = c->rx.cap;
    if (cap > c->rx.len) {
        uint8_t *shrunk = ce_realloc(frame, c->rx.len); /* in place as a rule; the original stays on failure */
        if (shrunk != NULL) {
            frame = shrunk;
            cap = c->rx.len;
        }
    }
    canal_batch *b = canal_batch_parse_frame(frame + off, pv->body_len, frame, err, errlen);
    if (b == NULL) {
        c->rx.data = frame; /* still the receive buffer */
        c->rx.cap = cap;
        return NULL;
    }
    ce_buf_init(&c->rx, c->rx.max);
    return b;
}

canal_rc canal_get_mode(canal_client *c, canal_wait mode, canal_batch **out, char *err, size_t errlen)
{
    *out = NULL;
    char detail[700] = "";
    canal_rc rc;
    if (c->fd < 0) {
        snprintf(err, errlen, "canal %s: not connected", c->peer);
        return CANAL_ERR_IO;
    }
    if (c->out_count == CANAL_MAX_OUTSTANDING) {
        snprintf(err, errlen, "canal %s: %d batches outstanding", c->peer, CANAL_MAX_OUTSTANDING);
        return CANAL_ERR_ORDER;
    }
    if (canal_zk_moved(c, err, errlen)) {
        canal_close(c);
        return CANAL_ERR_IO;
    }
    Canalpb__Get get = CANALPB__GET__INIT;
    get.destination = (char *)c->o.destination;
    get.client_id = c->client_id;
    get.fetch_size = mode == CANAL_GET_FIRST ? 1 : (int32_t)c->o.fetch_size;
    get.timeout_present_case = CANALPB__GET__TIMEOUT_PRESENT_TIMEOUT;
    /* -1: the server answers with what it holds (0 would make it wait for fetch_size without end) */
    get.timeout = mode == CANAL_GET_NOW ? -1 : c->o.fetch_timeout_ms;
    get.unit_present_case = CANALPB__GET__UNIT_PRESENT_UNIT;
    get.unit = 2; /* milliseconds */
    get.auto_ack_present_case = CANALPB__GET__AUTO_ACK_PRESENT_AUTO_ACK;
    get.auto_ack = 0;
    rc = canal_send(c, CANALPB__PACKET_TYPE__GET, &get.base, detail, sizeof detail);
    if (rc != CANAL_OK)
        goto out;
    packet_view pv;
    do {
        rc = canal_recv(c, &pv, detail, sizeof detail);
    } while (rc == CANAL_ERR_INTR && !(canal_read_stop(c) && *canal_read_stop(c)));
    if (rc == CANAL_ERR_INTR)
        snprintf(detail, sizeof detail, "GET abandoned: stop requested");
    if (rc != CANAL_OK)
        goto out;
    if (pv.type == CANALPB__PACKET_TYPE__ACK) {
        /* An error report: for this GET, or unrequested for an earlier ack/rollback. */
        int code = 0;
        char msg[512] = "";
        if (packet_decode_ack(&pv, &code, msg, sizeof msg) != 0) {
            snprintf(detail, sizeof detail, "malformed ACK packet in reply to GET");
        } else {
            msg[strcspn(msg, "\r\n")] = '\0'; /* no Java stack trace */
            snprintf(detail, sizeof detail, "server error %d: %s", code, msg);
        }
        rc = CANAL_ERR_IO;
    } else if (pv.type != CANALPB__PACKET_TYPE__MESSAGES) {
        snprintf(detail, sizeof detail, "unexpected packet type %d in reply to GET", (int)pv.type);
        rc = CANAL_ERR_IO;
    } else {
        canal_batch *b = canal_batch_of_rx(c, &pv, detail, sizeof detail);
        if (b == NULL) {
            rc = CANAL_ERR_IO;
        } else {
            if (b->id == -1) {
                canal_batch_free(b);
            } else {
                c->outstanding[(c->out_head + c->out_count) % CANAL_MAX_OUTSTANDING] = b->id;
                c->out_count++;
                *out = b;
            }
        }
    }
    packet_free(&pv);
out:
    if (rc != CANAL_OK) {
        snprintf(err, errlen, "canal %s (destination %s): get: %s", c->peer, c->o.destination, detail);
        canal_close(c);
    }
    return rc;
}

canal_rc canal_ack(canal_client *c, int64_t batch_id, char *err, size_t errlen)
{
    char detail[700] = "";
    if (c->out_count == 0 || c->outstanding[c->out_head] != batch_id) {
        snprintf(err, errlen, "canal %s: ack of batch %lld out of order (oldest outstanding: %lld)", c->peer,
                 (long long)batch_id, c->out_count ? (long long)c->outstanding[c->out_head] : -1LL);
        return CANAL_ERR_ORDER;
    }
    if (c->fd < 0) {
        snprintf(err, errlen, "canal %s: not connected", c->peer);
        return CANAL_ERR_IO;
    }
    Canalpb__ClientAck ack = CANALPB__CLIENT_ACK__INIT;
    ack.destination = (char *)c->o.destination;
    ack.client_id = c->client_id;
    ack.batch_id = batch_id;
    canal_rc rc = canal_send(c, CANALPB__PACKET_TYPE__CLIENTACK, &ack.base, detail, sizeof detail);
    if (rc != CANAL_OK) {
        snprintf(err, errlen, "canal %s: ack of batch %lld: %s", c->peer, (long long)batch_id, detail);
        canal_close(c);
        return rc;
    }
    c->out_head = (c->out_head + 1) % CANAL_MAX_OUTSTANDING;
    c->out_count--;
    return CANAL_OK;
}

ce_result canal_rc_kind(canal_rc rc)
{
    switch (rc) {
    case CANAL_OK: return CE_OK;
    case CANAL_ERR_IO:
    case CANAL_ERR_STANDBY: return CE_RETRY;
    case CANAL_ERR_TOO_BIG: return CE_PERMANENT;
    case CANAL_ERR_AUTH:
    case CANAL_ERR_SERVER:
    case CANAL_ERR_ORDER: return CE_FATAL;
    case CANAL_ERR_INTR: return CE_STOPPED;
    }
    return CE_FATAL;
}
