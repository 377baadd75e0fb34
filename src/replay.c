/* replay: re-sending dead letters.
 *
 * The file is read line by line (at most DLLINE_MAX_LINE bytes a line, the
 * rest of a longer line is skipped, the line kept as bad). Each line is
 * turned into _bulk lines by sink/dlline (the one definition of the format).
 * Lines are grouped into `_bulk` requests of at most
 * bulk_max_bytes. Only the positions of the lines are kept: the lines that
 * remain are read again from the file when DEADLETTERS.remaining is written,
 * in file order, so memory stays bounded by one request and one line. */
#include "replay.h"
#include "sink/dlline.h"
#include "util/clock.h"
#include "util/io.h"
#include "config.h"
#include "deliver/deliver.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/parse.h"
#include "util/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#define REPLAY_MAX_BODY (((size_t)1 << 31) + 4096)
#define REPLAY_CHUNK ((size_t)64 << 10)
#define REPLAY_OUT_FLUSH ((size_t)1 << 20)
#define REPLAY_MAX_ITEMS 65536      /* lines per batch, bad ones included */
#define REPLAY_DEFAULT_RETRIES 5    /* when max_retries is 0 ("forever" for the service) */
#define REPLAY_DETAILS 10           /* rejected/failed lines shown in the summary */
#define REPLAY_BAD_SHOWN 20         /* bad lines reported on stderr */

replay_outcome replay_classify(const sink_item *it)
{
    switch (it->cls) {
    case SINK_ITEM_OK:
        return it->status == 409 ? REPLAY_SUPERSEDED : REPLAY_APPLIED;
    case SINK_ITEM_RETRY:
        return REPLAY_RETRY;
    case SINK_ITEM_FATAL:
        return REPLAY_FATAL;
    case SINK_ITEM_DEAD:
    default:
        return REPLAY_REJECTED;
    }
}

void replay_format_summary(const replay_counts *c, char *out, size_t outlen)
{
    snprintf(out, outlen, "replayed %zu: applied %zu, superseded %zu, rejected %zu, failed %zu, bad lines %zu",
             c->lines, c->applied, c->superseded, c->rejected, c->failed, c->bad);
}

/* ------------------------------------------------------------------ the command */

static volatile sig_atomic_t replay_stop = 0;

static void replay_on_signal(int sig)
{
    (void)sig;
    replay_stop = 1;
}

static int replay_aborted(void *ud)
{
    (void)ud;
    return replay_stop != 0;
}

/* Where a line is in the file. */
typedef struct replay_span {
    uint64_t off;
    size_t len;   /* without the newline */
    int too_long; /* longer than the line buffer: only its start was kept */
    int newline;  /* it ended with '\n' (not at the end of the file) */
} replay_span;

typedef struct replay_reader {
    int fd;
    uint8_t *chunk;
    size_t pos, end;
    uint64_t off; /* file offset of chunk[pos] */
    int eof;
} replay_reader;

/* The next line: 1, 0 at the end of the file, -1 on a read error (err). */
static int replay_read_line(replay_reader *r, ce_buf *line, replay_span *sp, char *err, size_t errlen)
{
    ce_buf_reset(line);
    *sp = (replay_span){.off = r->off};
    for (;;) {
        if (r->pos == r->end) {
            if (r->eof)
                return sp->len > 0 ? 1 : 0;
            ssize_t n = read(r->fd, r->chunk, REPLAY_CHUNK);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                snprintf(err, errlen, "read failed: %s", strerror(errno));
                return -1;
            }
            if (n == 0)
                r->eof = 1;
            r->pos = 0;
            r->end = (size_t)n;
            continue;
        }
        const uint8_t *s = r->chunk + r->pos;
        size_t avail = r->end - r->pos;
        const uint8_t *nl = memchr(s, '\n', avail);
        size_t take = nl ? (size_t)(nl - s) : avail;
        if (!sp->too_long) {
            if (take > line->max - line->len)
                sp->too_long = 1;
            else if (ce_buf_append(line, s, take) != 0) {
                snprintf(err, errlen, "out of memory for a %zu-byte line", line->len + take);
                return -1;
            }
        }
        sp->len += take;
        r->pos += take + (nl != NULL);
        r->off += take + (nl != NULL);
        if (nl) {
            sp->newline = 1;
            return 1;
        }
    }
}

enum { RS_PENDING = 0, RS_APPLIED, RS_SUPERSEDED, RS_REJECTED, RS_FAILED, RS_BAD, RS_UNSENT };

typedef struct replay_item {
    uint64_t off;           /* the line in the file */
    size_t len;
    size_t line_no;
    size_t body_off, body_len; /* its _bulk lines in the batch body */
    unsigned char state;    /* RS_* */
    unsigned char answered; /* res holds the node's answer for this item */
} replay_item;

typedef struct replay_ctx {
    const cfg *c;
    const char *path;
    bool dry_run;
    replay_reader rd;
    sink *sink;
    replay_item *items;
    sink_item *res;      /* per item: the last answer */
    dlv_action *acts;    /* the pending items sent */
    dlv_result *dres;    /* their results */
    size_t *idx;         /* the item of each of acts */
    size_t n, cap;
    ce_buf body, line, nd, scratch, rew, ob; /* nd: the line being added; rew: a rewritten line */
    size_t req_cap;
    long retries;
    int out_fd;
    char tmp_path[PATH_MAX];
    char rem_path[PATH_MAX];
    size_t rem_lines;
    replay_counts cnt;
    size_t unversioned;
    size_t unsent;
    bool stop_sending;
    char why_stopped[1300];
    char detail[REPLAY_DETAILS][800];
    size_t n_detail, more_detail;
    char err[2 * PATH_MAX + 1024];
} replay_ctx;

static int replay_out_flush(replay_ctx *x)
{
    if (x->ob.len > 0 && ce_write_all(x->out_fd, x->ob.data, x->ob.len) != 0) {
        snprintf(x->err, sizeof x->err, "%s: write failed: %s", x->tmp_path, strerror(errno));
        return -1;
    }
    ce_buf_reset(&x->ob);
    return 0;
}

static int replay_out_append(replay_ctx *x, const void *p, size_t n)
{
    if (x->ob.len + n > REPLAY_OUT_FLUSH && replay_out_flush(x) != 0)
        return -1;
    if (n >= REPLAY_OUT_FLUSH) {
        if (ce_write_all(x->out_fd, p, n) != 0) {
            snprintf(x->err, sizeof x->err, "%s: write failed: %s", x->tmp_path, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (ce_buf_append(&x->ob, p, n) != 0) {
        snprintf(x->err, sizeof x->err, "%s: out of memory", x->tmp_path);
        return -1;
    }
    return 0;
}

/* Reads bytes [off, off+n) of the dead-letter file again. */
static int replay_pread(replay_ctx *x, uint64_t off, uint8_t *p, size_t n, size_t line_no)
{
    while (n > 0) {
        ssize_t r = pread(x->rd.fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(x->err, sizeof x->err, "%s:%zu: cannot read the line again: %s", x->path, line_no,
                     r < 0 ? strerror(errno) : "the file was truncated");
            return -1;
        }
        p += r;
        off += (uint64_t)r;
        n -= (size_t)r;
    }
    return 0;
}

/* The line as it is in the file, into the remaining file. */
static int replay_keep_verbatim(replay_ctx *x, const replay_item *it)
{
    uint8_t buf[16384];
    uint64_t off = it->off;
    size_t left = it->len;
    while (left > 0) {
        size_t n = left < sizeof buf ? left : sizeof buf;
        if (replay_pread(x, off, buf, n, it->line_no) != 0 || replay_out_append(x, buf, n) != 0)
            return -1;
        off += n;
        left -= n;
    }
    return replay_out_append(x, "\n", 1);
}

/* The line with the node's latest answer as its time/status/error. */
static int replay_keep_answered(replay_ctx *x, size_t i)
{
    const replay_item *it = &x->items[i];
    const sink_item *r = &x->res[i];
    ce_buf_reset(&x->scratch);
    ce_buf_reset(&x->rew);
    if (ce_buf_reserve(&x->scratch, it->len) != 0) {
        snprintf(x->err, sizeof x->err, "%s:%zu: out of memory for the line", x->path, it->line_no);
        return -1;
    }
    if (replay_pread(x, it->off, x->scratch.data, it->len, it->line_no) != 0)
        return -1;
    x->scratch.len = it->len;
    char when[40], err[300];
    ce_iso_utc(ce_wall_ms(), when, sizeof when);
    if (dlline_rewrite((const char *)x->scratch.data, x->scratch.len, when, r->status, r->type, r->reason,
                            &x->rew, err, sizeof err) != 0)
        return replay_keep_verbatim(x, it); /* cannot happen for a line that was sent; keep it as it is */
    return replay_out_append(x, x->rew.data, x->rew.len);
}

/* _index/_id of an item, from its action line in the body. */
static void replay_ident(const replay_ctx *x, const replay_item *it, char *out, size_t outlen)
{
    snprintf(out, outlen, "?");
    const uint8_t *p = x->body.data + it->body_off;
    const uint8_t *nl = memchr(p, '\n', it->body_len);
    size_t n = nl ? (size_t)(nl - p) : it->body_len;
    char *copy = ce_strndup((const char *)p, n);
    char perr[64];
    yajl_val v = copy ? yajl_tree_parse(copy, perr, sizeof perr) : NULL;
    if (v && YAJL_IS_OBJECT(v) && v->u.object.len == 1) {
        static const char *idx_path[] = {"_index", NULL};
        static const char *id_path[] = {"_id", NULL};
        const char *idx = YAJL_GET_STRING(yajl_tree_get(v->u.object.values[0], idx_path, yajl_t_string));
        const char *id = YAJL_GET_STRING(yajl_tree_get(v->u.object.values[0], id_path, yajl_t_string));
        snprintf(out, outlen, "%s %s/%s", v->u.object.keys[0], idx ? idx : "?", id ? id : "?");
    }
    if (v)
        yajl_tree_free(v);
    ce_free(copy);
}

static void replay_note_detail(replay_ctx *x, size_t i, const char *what)
{
    if (x->n_detail >= REPLAY_DETAILS) {
        x->more_detail++;
        return;
    }
    const replay_item *it = &x->items[i];
    const sink_item *r = &x->res[i];
    char ident[300];
    replay_ident(x, it, ident, sizeof ident);
    if (it->answered)
        snprintf(x->detail[x->n_detail++], sizeof x->detail[0], "  %s %s:%zu %.300s: HTTP %d %s: %s", what,
                 x->path, it->line_no, ident, r->status, r->type, r->reason);
    else
        snprintf(x->detail[x->n_detail++], sizeof x->detail[0], "  %s %s:%zu %.300s: %s", what, x->path,
                 it->line_no, ident, r->reason[0] ? r->reason : "not sent");
}

static void replay_bad_line(replay_ctx *x, size_t line_no, const char *why)
{
    if (x->cnt.bad < REPLAY_BAD_SHOWN)
        ce_log_print(stderr, "canal-es replay-dead-letters: %s:%zu: %s", x->path, line_no, why);
    x->cnt.bad++;
}

static int replay_grow(replay_ctx *x)
{
    if (x->n < x->cap)
        return 0;
    size_t ncap = x->cap ? x->cap * 2 : 256;
    replay_item *ni = ce_realloc(x->items, ncap * sizeof *ni);
    if (ni != NULL)
        x->items = ni;
    sink_item *nr = ce_realloc(x->res, ncap * sizeof *nr);
    if (nr != NULL)
        x->res = nr;
    dlv_action *na = ce_realloc(x->acts, ncap * sizeof *na);
    if (na != NULL)
        x->acts = na;
    dlv_result *nt = ce_realloc(x->dres, ncap * sizeof *nt);
    if (nt != NULL)
        x->dres = nt;
    size_t *nx = ce_realloc(x->idx, ncap * sizeof *nx);
    if (nx != NULL)
        x->idx = nx;
    if (ni == NULL || nr == NULL || na == NULL || nt == NULL || nx == NULL) {
        snprintf(x->err, sizeof x->err, "out of memory for %zu lines", ncap);
        return -1;
    }
    x->cap = ncap;
    return 0;
}

/* Marks every pending item failed; answered ones keep their last answer. */
static void replay_fail_pending(replay_ctx *x, const char *why)
{
    for (size_t i = 0; i < x->n; i++) {
        if (x->items[i].state != RS_PENDING)
            continue;
        x->items[i].state = RS_FAILED;
        if (!x->items[i].answered)
            ce_str_copy(x->res[i].reason, sizeof x->res[i].reason, why);
    }
}

static void replay_stop_sending(replay_ctx *x, const char *why)
{
    x->stop_sending = true;
    ce_str_copy(x->why_stopped, sizeof x->why_stopped, why);
    replay_fail_pending(x, why);
}

static void replay_log(void *ud, ce_log_level level, const char *msg)
{
    (void)ud;
    (void)level;
    ce_log_print(stderr, "canal-es replay-dead-letters: %s", msg);
}

/* Sends the pending items of the batch through the delivery module
 * (deliver.h) until each has a final answer: 429/5xx items and failed
 * requests are sent again with backoff, at most x->retries times. */
static void replay_send(replay_ctx *x)
{
    size_t k = 0;
    for (size_t i = 0; i < x->n; i++) {
        const replay_item *it = &x->items[i];
        if (it->state != RS_PENDING)
            continue;
        x->idx[k] = i;
        x->acts[k++] = (dlv_action){.p = x->body.data + it->body_off, .len = it->body_len};
    }
    dlv_transport t;
    dlv_sink_transport(&t, &x->sink);
    dlv_opts o = {.req_cap = &x->req_cap,
                  .streams = 1,
                  .max_retries = x->retries,
                  .retry_initial_ms = (uint64_t)x->c->es.retry_initial_ms,
                  .retry_max_ms = (uint64_t)x->c->es.retry_max_ms,
                  .should_abort = replay_aborted,
                  .log = replay_log};
    dlv_rc rc = dlv_send(x->acts, k, &t, &o, x->dres, x->err, sizeof x->err);
    for (size_t m = 0; m < k; m++) {
        size_t i = x->idx[m];
        const dlv_result *r = &x->dres[m];
        if (!r->answered) {
            ce_str_copy(x->res[i].reason, sizeof x->res[i].reason, r->item.reason); /* why its request failed */
            continue;
        }
        x->res[i] = r->item;
        x->items[i].answered = 1;
        switch (replay_classify(&r->item)) {
        case REPLAY_APPLIED: x->items[i].state = RS_APPLIED; break;
        case REPLAY_SUPERSEDED: x->items[i].state = RS_SUPERSEDED; break;
        case REPLAY_REJECTED: x->items[i].state = RS_REJECTED; break;
        default: break; /* still failing, or not settled: stays pending */
        }
    }
    char why[sizeof x->why_stopped];
    switch (rc) {
    case DLV_DONE:
    case DLV_HALTED:
        replay_fail_pending(x, "still failing after the retries");
        break;
    case DLV_GAVE_UP:
        snprintf(why, sizeof why, "%.1100s (given up after %ld retries)", x->err, x->retries);
        replay_stop_sending(x, why);
        break;
    case DLV_STOPPED:
        replay_stop_sending(x, "interrupted");
        break;
    case DLV_FATAL:
        replay_stop_sending(x, x->err);
        break;
    }
}

/* Sends the batch (unless dry run), then writes its lines that did not
 * succeed to the remaining file, in file order, and counts them. */
static int replay_flush(replay_ctx *x)
{
    if (!x->dry_run && !x->stop_sending) {
        size_t pending = 0;
        for (size_t i = 0; i < x->n; i++)
            pending += x->items[i].state == RS_PENDING;
        if (pending > 0)
            replay_send(x);
    }
    int rc = -1;
    for (size_t i = 0; i < x->n; i++) {
        replay_item *it = &x->items[i];
        if (it->state == RS_PENDING) { /* not sent: dry run, or sending stopped before this batch */
            it->state = RS_UNSENT;
            ce_str_copy(x->res[i].reason, sizeof x->res[i].reason, "not sent");
        }
        switch (it->state) {
        case RS_APPLIED: x->cnt.applied++; continue;
        case RS_SUPERSEDED: x->cnt.superseded++; continue;
        case RS_REJECTED: x->cnt.rejected++; replay_note_detail(x, i, "rejected"); break;
        case RS_FAILED: x->cnt.failed++; replay_note_detail(x, i, "failed"); break;
        case RS_UNSENT: x->cnt.failed++; x->unsent++; break;
        default: break; /* RS_BAD: counted when read */
        }
        if (x->dry_run)
            continue;
        if ((it->answered && it->state != RS_UNSENT ? replay_keep_answered(x, i) : replay_keep_verbatim(x, it)) != 0)
            goto out;
        x->rem_lines++;
    }
    rc = 0;
out:
    x->n = 0;
    ce_buf_reset(&x->body);
    return rc;
}

static bool replay_blank(const ce_buf *line, const replay_span *sp)
{
    if (sp->too_long)
        return false;
    for (size_t i = 0; i < line->len; i++)
        if (line->data[i] != ' ' && line->data[i] != '\t' && line->data[i] != '\r')
            return false;
    return true;
}

/* One line of the file: checked, turned into _bulk lines, added to the batch
 * (which is sent first when the line does not fit). */
static int replay_add(replay_ctx *x, const replay_span *sp, size_t line_no)
{
    char why[600];
    dlline_entry e = {0};
    int bad = 0;
    ce_buf_reset(&x->nd);
    if (replay_stop && !x->stop_sending) {
        x->stop_sending = true;
        ce_str_copy(x->why_stopped, sizeof x->why_stopped, "interrupted");
    }
    if (x->stop_sending) {
        /* nothing more is sent: kept as it is */
    } else if (sp->too_long) {
        snprintf(why, sizeof why, "line of %zu bytes is longer than the limit of %zu bytes", sp->len, x->line.max);
        bad = 1;
    } else if (dlline_to_ndjson((const char *)x->line.data, x->line.len, &x->nd, &e, why, sizeof why) != 0) {
        if (!sp->newline) {
            size_t l = strlen(why);
            snprintf(why + l, sizeof why - l, " (the last line has no newline: was it still being written?)");
        }
        bad = 1;
    }
    if (bad)
        replay_bad_line(x, line_no, why);
    else if (!x->stop_sending && !e.has_version && x->unversioned++ == 0)
        fprintf(stderr, "canal-es replay-dead-letters: %s:%zu: the action has no version (versioning = off): "
                "it overwrites the document even if it changed since\n", x->path, line_no);
    if (x->dry_run) {
        if (!bad && fwrite(x->nd.data, 1, x->nd.len, stdout) != x->nd.len) {
            snprintf(x->err, sizeof x->err, "writing the NDJSON to stdout failed: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    if (x->n > 0 && (x->n >= REPLAY_MAX_ITEMS || x->body.len + x->nd.len > (size_t)x->c->es.bulk_max_bytes)) {
        if (replay_flush(x) != 0)
            return -1;
    }
    if (replay_grow(x) != 0)
        return -1;
    replay_item *it = &x->items[x->n];
    *it = (replay_item){.off = sp->off, .len = sp->len, .line_no = line_no, .body_off = x->body.len,
                        .state = bad ? RS_BAD : x->stop_sending ? RS_UNSENT : RS_PENDING};
    memset(&x->res[x->n], 0, sizeof x->res[x->n]);
    if (it->state == RS_PENDING) {
        if (ce_buf_append(&x->body, x->nd.data, x->nd.len) != 0) {
            snprintf(x->err, sizeof x->err, "%s:%zu: out of memory for the request body", x->path, line_no);
            return -1;
        }
        it->body_len = x->nd.len;
    }
    x->n++;
    return 0;
}

/* Renames the temporary file to .remaining (lines remain) or removes both. */
static int replay_finish(replay_ctx *x, bool *stale_removed)
{
    *stale_removed = false;
    if (replay_out_flush(x) != 0)
        return -1;
    if (x->rem_lines > 0) {
        if (fsync(x->out_fd) != 0) {
            snprintf(x->err, sizeof x->err, "%s: fsync failed: %s", x->tmp_path, strerror(errno));
            return -1;
        }
        close(x->out_fd);
        x->out_fd = -1;
        if (rename(x->tmp_path, x->rem_path) != 0) {
            snprintf(x->err, sizeof x->err, "cannot rename %s to %s: %s", x->tmp_path, x->rem_path, strerror(errno));
            return -1;
        }
        x->tmp_path[0] = '\0';
    } else {
        close(x->out_fd);
        x->out_fd = -1;
        unlink(x->tmp_path);
        x->tmp_path[0] = '\0';
        if (unlink(x->rem_path) == 0)
            *stale_removed = true;
        else if (errno != ENOENT) {
            snprintf(x->err, sizeof x->err, "cannot remove the stale %s: %s", x->rem_path, strerror(errno));
            return -1;
        }
    }
    char dir[PATH_MAX];
    (void)ce_sync_dir_of(x->rem_path, dir, sizeof dir); /* best effort, as before: the lines are written */
    return 0;
}

static void replay_print_summary(replay_ctx *x, bool stale_removed)
{
    char line[300];
    replay_format_summary(&x->cnt, line, sizeof line);
    printf("%s\n", line);
    for (size_t i = 0; i < x->n_detail; i++)
        ce_log_print(stdout, "%s", x->detail[i]); /* ids and node answers escaped */
    if (x->more_detail > 0)
        printf("  ... and %zu more rejected or failed lines\n", x->more_detail);
    if (x->cnt.bad > REPLAY_BAD_SHOWN)
        fprintf(stderr, "canal-es replay-dead-letters: %zu more bad lines in %s\n", x->cnt.bad - REPLAY_BAD_SHOWN,
                x->path);
    if (x->stop_sending)
        ce_log_print(stderr, "canal-es replay-dead-letters: stopped sending: %s; the lines without an answer (%zu of "
                     "them never sent) are kept as they were", x->why_stopped, x->unsent);
    if (x->rem_lines > 0)
        printf("%zu line%s remain%s in %s\n", x->rem_lines, x->rem_lines == 1 ? "" : "s", x->rem_lines == 1 ? "s" : "",
               x->rem_path);
    else
        printf("nothing remains%s\n", stale_removed ? " (the old .remaining file was removed)" : "");
    fflush(stdout);
}

int replay_file(const cfg *c, const char *file, bool dry_run)
{
    int rc = 2;
    replay_ctx *x = ce_calloc(1, sizeof *x);
    char err[1024];
    if (x == NULL) {
        fprintf(stderr, "canal-es replay-dead-letters: out of memory\n");
        return 1;
    }
    x->rd.fd = -1;
    x->out_fd = -1;
    x->path = file;
    x->dry_run = dry_run;
    ce_buf_init(&x->line, DLLINE_MAX_LINE);
    ce_buf_init(&x->nd, REPLAY_MAX_BODY);
    ce_buf_init(&x->body, REPLAY_MAX_BODY);
    ce_buf_init(&x->scratch, DLLINE_MAX_LINE);
    ce_buf_init(&x->rew, REPLAY_MAX_BODY);
    ce_buf_init(&x->ob, 2 * REPLAY_OUT_FLUSH);
    x->c = c;
    x->req_cap = (size_t)c->es.bulk_max_bytes;
    x->retries = c->es.max_retries > 0 ? c->es.max_retries : REPLAY_DEFAULT_RETRIES;

    x->rd.fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (x->rd.fd < 0 || fstat(x->rd.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "canal-es replay-dead-letters: %s: %s\n", file,
                x->rd.fd < 0 ? strerror(errno) : "not a regular file");
        goto out;
    }
    x->rd.chunk = ce_malloc(REPLAY_CHUNK);
    if (x->rd.chunk == NULL) {
        fprintf(stderr, "canal-es replay-dead-letters: out of memory\n");
        rc = 1;
        goto out;
    }
    if (!dry_run) {
        int n1 = snprintf(x->rem_path, sizeof x->rem_path, "%s.remaining", file);
        int n2 = snprintf(x->tmp_path, sizeof x->tmp_path, "%s.remaining.tmp.%ld", file, (long)getpid());
        if (n1 < 0 || (size_t)n1 >= sizeof x->rem_path || n2 < 0 || (size_t)n2 >= sizeof x->tmp_path) {
            fprintf(stderr, "canal-es replay-dead-letters: %s: path too long\n", file);
            x->tmp_path[0] = '\0';
            goto out;
        }
        x->out_fd = open(x->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (x->out_fd < 0) {
            fprintf(stderr, "canal-es replay-dead-letters: cannot create %s: %s\n", x->tmp_path, strerror(errno));
            x->tmp_path[0] = '\0';
            rc = 1;
            goto out;
        }
        x->sink = sink_new_cfg(&c->es, err, sizeof err);
        if (x->sink == NULL) {
            fprintf(stderr, "canal-es replay-dead-letters: %s\n", err);
            rc = 1;
            goto out;
        }
        sink_set_abort(x->sink, replay_aborted, NULL);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = replay_on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND | SA_RESTART; /* a second signal ends the process at once */
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    signal(SIGPIPE, SIG_IGN);

    rc = 1;
    size_t line_no = 0;
    for (;;) {
        replay_span sp;
        int r = replay_read_line(&x->rd, &x->line, &sp, x->err, sizeof x->err);
        if (r < 0) {
            ce_log_print(stderr, "canal-es replay-dead-letters: %s:%zu: %s", file, line_no + 1, x->err);
            goto out;
        }
        if (r == 0)
            break;
        line_no++;
        if (replay_blank(&x->line, &sp))
            continue;
        x->cnt.lines++;
        if (replay_add(x, &sp, line_no) != 0) {
            ce_log_print(stderr, "canal-es replay-dead-letters: %s", x->err);
            goto out;
        }
    }
    if (replay_flush(x) != 0) {
        ce_log_print(stderr, "canal-es replay-dead-letters: %s", x->err);
        goto out;
    }
    if (dry_run) {
        if (fflush(stdout) != 0) {
            fprintf(stderr, "canal-es replay-dead-letters: writing to stdout failed: %s\n", strerror(errno));
            goto out;
        }
        fprintf(stderr, "dry run: %zu lines: %zu would be sent, %zu bad lines; nothing was sent\n", x->cnt.lines,
                x->cnt.lines - x->cnt.bad, x->cnt.bad);
        rc = x->cnt.bad > 0 ? 1 : 0;
        goto out;
    }
    bool stale_removed;
    if (replay_finish(x, &stale_removed) != 0) {
        ce_log_print(stderr, "canal-es replay-dead-letters: %s", x->err);
        goto out;
    }
    replay_print_summary(x, stale_removed);
    rc = x->cnt.rejected + x->cnt.failed + x->cnt.bad > 0 ? 1 : 0;
out:
    if (x->out_fd >= 0)
        close(x->out_fd);
    if (x->tmp_path[0] != '\0') {
        unlink(x->tmp_path);
        fprintf(stderr, "canal-es replay-dead-letters: %s is unchanged; %s was not written\n", file, x->rem_path);
    }
    if (x->rd.fd >= 0)
        close(x->rd.fd);
    sink_free(x->sink);
    ce_free(x->rd.chunk);
    ce_free(x->items);
    ce_free(x->res);
    ce_free(x->acts);
    ce_free(x->dres);
    ce_free(x->idx);
    ce_buf_free(&x->line);
    ce_buf_free(&x->nd);
    ce_buf_free(&x->body);
    ce_buf_free(&x->scratch);
    ce_buf_free(&x->rew);
    ce_buf_free(&x->ob);
    ce_free(x);
    return rc;
}
