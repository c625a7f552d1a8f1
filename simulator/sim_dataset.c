#include "simulator/sim_dataset.h"

#include "common/buf.h"
#include "common/json.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "simulator/sim_render.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum stmt { Q_HASH, Q_COUNT_LE, Q_COUNT_EQ, Q_PICK_LE, Q_PICK_EQ, Q_PICK_ANY, Q_N };

/* SELECT what FROM "table" rest. ?1: the hash or the bound; ?2: the offset
 * of the record to take. */
static const struct {
    const char *what, *rest;
} queries[Q_N] = {
    {"gen_tokens", "WHERE prompt_hash = ?1"},
    {"COUNT(*)", "WHERE n_gen_tokens <= ?1"},
    {"COUNT(*)", "WHERE n_gen_tokens = ?1"},
    {"gen_tokens", "WHERE n_gen_tokens <= ?1 LIMIT 1 OFFSET ?2"},
    {"gen_tokens", "WHERE n_gen_tokens = ?1 LIMIT 1 OFFSET ?2"},
    {"gen_tokens", "LIMIT 1 OFFSET ?2"},
};

static const struct {
    const char *name, *type;
} columns[] = {{"id", "INTEGER"},
               {"prompt_hash", "BLOB"},
               {"gen_tokens", "JSON"},
               {"n_gen_tokens", "INTEGER"}};

struct sim_dataset {
    sqlite3 *db;
    pthread_mutex_t mu; /* one lookup at a time on the connection and its statements */
    sqlite3_stmt *q[Q_N];
    long records;
};

/* One record's tokens. */
struct rec {
    char **s;
    uint32_t *ids; /* the record's "numbers", or NULL: FNV-1a of the strings */
    size_t n;
};

static void rec_release(struct rec *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->s[i]);
    free(r->s);
    free(r->ids);
    memset(r, 0, sizeof(*r));
}

void sim_dataset_free(struct sim_dataset *d)
{
    if (!d)
        return;
    for (int i = 0; i < Q_N; i++)
        sqlite3_finalize(d->q[i]);
    sqlite3_close(d->db);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

long sim_dataset_records(const struct sim_dataset *d)
{
    return d->records;
}

void sim_dataset_hash(const uint32_t *ids, size_t n, unsigned char out[32])
{
    unsigned char *le = xmalloc(n ? n * 4 : 1);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < 4; k++)
            le[i * 4 + k] = (unsigned char)(ids[i] >> (8 * k));
    EVP_Digest(le, n * 4, out, NULL, EVP_sha256(), NULL);
    free(le);
}

/* The four columns, with upstream's types (compared case-insensitively). */
static int check_schema(sqlite3 *db, const struct sim_dataset_opts *o, char *err, size_t errlen)
{
    char sql[128], type[4][32] = {"", "", "", ""};
    sqlite3_stmt *st;
    snprintf(sql, sizeof(sql), "PRAGMA table_info(\"%s\")", o->table);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "--dataset-path %s: %s", o->path, sqlite3_errmsg(db));
        return -1;
    }
    int rc, rows = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const char *t = (const char *)sqlite3_column_text(st, 2);
        rows++;
        for (int i = 0; i < 4 && name; i++)
            if (strcmp(name, columns[i].name) == 0)
                snprintf(type[i], sizeof(type[i]), "%s", t ? t : "");
    }
    if (rc != SQLITE_DONE)
        snprintf(err, errlen, "--dataset-path %s: %s", o->path, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return -1;
    if (rows == 0) {
        snprintf(err, errlen, "--dataset-path %s: no table \"%s\" (--dataset-table-name)", o->path,
                 o->table);
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(type[i], columns[i].type) == 0)
            continue;
        if (type[i][0])
            snprintf(err, errlen,
                     "--dataset-path %s: table \"%s\": column %s has type %s, "
                     "expected %s",
                     o->path, o->table, columns[i].name, type[i], columns[i].type);
        else
            snprintf(err, errlen, "--dataset-path %s: table \"%s\" has no column %s (%s)", o->path,
                     o->table, columns[i].name, columns[i].type);
        return -1;
    }
    return 0;
}

static int exec(sqlite3 *db, const char *sql, const struct sim_dataset_opts *o, char *err,
                size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    snprintf(err, errlen, "--dataset-path %s: %s", o->path, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

/* --dataset-in-memory: the whole file copied into a memory database, with
 * the indexes the lookups need (upstream copies the table and scans it). */
static int load_in_memory(struct sim_dataset *d, sqlite3 *file, const struct sim_dataset_opts *o,
                          char *err, size_t errlen)
{
    char sql[256];
    if (sqlite3_open(":memory:", &d->db) != SQLITE_OK) {
        snprintf(err, errlen, "--dataset-in-memory: %s", sqlite3_errmsg(d->db));
        return -1;
    }
    sqlite3_backup *b = sqlite3_backup_init(d->db, "main", file, "main");
    int rc = b ? sqlite3_backup_step(b, -1) : SQLITE_ERROR;
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "--dataset-in-memory: copying %s: %s", o->path,
                 sqlite3_errmsg(d->db));
        return -1;
    }
    snprintf(sql, sizeof(sql),
             "CREATE INDEX pdsim_hash ON \"%s\"(prompt_hash);"
             "CREATE INDEX pdsim_len ON \"%s\"(n_gen_tokens);",
             o->table, o->table);
    return exec(d->db, sql, o, err, errlen);
}

static int prepare(struct sim_dataset *d, const struct sim_dataset_opts *o, char *err,
                   size_t errlen)
{
    char sql[256];
    sqlite3_stmt *st;
    for (int i = 0; i < Q_N; i++) {
        snprintf(sql, sizeof(sql), "SELECT %s FROM \"%s\" %s", queries[i].what, o->table,
                 queries[i].rest);
        if (sqlite3_prepare_v3(d->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &d->q[i], NULL) !=
            SQLITE_OK) {
            snprintf(err, errlen, "--dataset-path %s: %s", o->path, sqlite3_errmsg(d->db));
            return -1;
        }
    }
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM \"%s\"", o->table);
    if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        snprintf(err, errlen, "--dataset-path %s: %s", o->path, sqlite3_errmsg(d->db));
        sqlite3_finalize(st);
        return -1;
    }
    d->records = (long)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (d->records == 0) {
        snprintf(err, errlen, "--dataset-path %s: table \"%s\" has no records", o->path, o->table);
        return -1;
    }
    return 0;
}

static int open_file(const struct sim_dataset_opts *o, sqlite3 **db, char *err, size_t errlen)
{
    struct stat st;
    if (stat(o->path, &st) < 0) {
        if (errno == ENOENT && o->url && *o->url)
            snprintf(err, errlen,
                     "--dataset-url %s: pdsim-simulator does not download datasets; fetch the "
                     "file to --dataset-path %s first",
                     o->url, o->path);
        else
            snprintf(err, errlen, "--dataset-path %s: %s", o->path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "--dataset-path %s: not a regular file", o->path);
        return -1;
    }
    if (sqlite3_open_v2(o->path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "--dataset-path %s: %s", o->path, sqlite3_errmsg(*db));
        return -1;
    }
    return 0;
}

int sim_dataset_open(const struct sim_dataset_opts *o, struct sim_dataset **out, char *err,
                     size_t errlen)
{
    struct sim_dataset *d = xcalloc(1, sizeof(*d));
    sqlite3 *file = NULL;
    pthread_mutex_init(&d->mu, NULL);
    int rc = open_file(o, &file, err, errlen);
    rc = rc ? rc : check_schema(file, o, err, errlen);
    if (rc == 0 && o->in_memory) {
        rc = load_in_memory(d, file, o, err, errlen);
    } else if (rc == 0) {
        d->db = file;
        file = NULL;
    }
    sqlite3_close(file);
    rc = rc ? rc : prepare(d, o, err, errlen);
    if (rc < 0) {
        sim_dataset_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

/* gen_tokens: ["tok", ...] (upstream's first format) or {"strings":[...],
 * "numbers":[...]} (its current one; numbers optional). */
static int parse_rec(const char *text, int len, struct rec *r)
{
    cJSON *root = json_parse(text, len > 0 ? (size_t)len : 0, NULL, 0);
    const cJSON *s = cJSON_IsArray(root) ? root : cJSON_GetObjectItemCaseSensitive(root, "strings");
    const cJSON *num = cJSON_GetObjectItemCaseSensitive(root, "numbers"), *it;
    int rc = -1, n = cJSON_GetArraySize(s);
    memset(r, 0, sizeof(*r));
    if (!cJSON_IsArray(s) ||
        (num && !cJSON_IsNull(num) && (!cJSON_IsArray(num) || cJSON_GetArraySize(num) != n)))
        goto out;
    r->s = xcalloc(n ? (size_t)n : 1, sizeof(char *));
    cJSON_ArrayForEach(it, s)
    {
        if (!cJSON_IsString(it))
            goto out;
        r->s[r->n++] = xstrdup(it->valuestring);
    }
    if (cJSON_IsArray(num)) {
        size_t i = 0;
        r->ids = xcalloc(n ? (size_t)n : 1, sizeof(uint32_t));
        cJSON_ArrayForEach(it, num)
        {
            if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble > 4294967295.0)
                goto out;
            r->ids[i++] = (uint32_t)it->valuedouble;
        }
    }
    rc = 0;
out:
    if (rc < 0)
        rec_release(r);
    cJSON_Delete(root);
    return rc;
}

#define BAD_SQL -1 /* sqlite3_errmsg says why */
#define BAD_REC -2 /* a gen_tokens value that is not a token list */

/* Step st and parse every row's gen_tokens into *v. Returns the number of
 * records, BAD_SQL or BAD_REC. Resets st. */
static long read_recs(sqlite3_stmt *st, struct rec **v)
{
    long n = 0, bad = 0;
    int rc;
    *v = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *v = xrealloc(*v, (size_t)(n + 1) * sizeof(**v));
        if (parse_rec((const char *)sqlite3_column_text(st, 0), sqlite3_column_bytes(st, 0),
                      &(*v)[n]) < 0) {
            bad = BAD_REC;
            break;
        }
        n++;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (bad || rc != SQLITE_DONE) {
        for (long i = 0; i < n; i++)
            rec_release(&(*v)[i]);
        free(*v);
        *v = NULL;
        return bad ? bad : BAD_SQL;
    }
    return n;
}

static long count(sqlite3_stmt *st, long bound)
{
    sqlite3_bind_int64(st, 1, bound);
    long n = sqlite3_step(st) == SQLITE_ROW ? (long)sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return n;
}

/* The record at offset k of a random-pick query. */
static int pick(sqlite3_stmt *st, long bound, long k, struct rec *out)
{
    struct rec *v;
    sqlite3_bind_int64(st, 1, bound);
    sqlite3_bind_int64(st, 2, k);
    long n = read_recs(st, &v);
    if (n != 1) { /* 0: the table changed since it was counted */
        for (long i = 0; i < n; i++)
            rec_release(&v[i]);
        free(v);
        return n < 0 ? (int)n : BAD_SQL;
    }
    *out = v[0];
    free(v);
    return 0;
}

/* Upstream's choice among the prompt's own records (n > 0): *out takes one
 * (moved out of v), to be cut or padded to bound by the caller. */
static void choose_matched(struct rec *v, long n, long bound, bool ignore_eos, struct sim_rng *r,
                           struct rec *out)
{
    long shorter = 0, equal = 0, longer = 0, want, seen = 0;
    for (long i = 0; i < n; i++) {
        long len = (long)v[i].n;
        shorter += len <= bound;
        equal += len == bound;
        longer += len > bound;
    }
    /* 0: exactly bound, 1: at most bound, 2: longer */
    int cls = ignore_eos ? (equal ? 0 : longer ? 2 : 1) : (shorter ? 1 : 2);
    long total = cls == 0 ? equal : cls == 1 ? shorter : longer;
    want = (long)sim_rng_range(r, 0, total - 1);
    for (long i = 0; i < n; i++) {
        long len = (long)v[i].n;
        bool in = cls == 0 ? len == bound : cls == 1 ? len <= bound : len > bound;
        if (in && seen++ == want) {
            *out = v[i];
            memset(&v[i], 0, sizeof(v[i]));
            return;
        }
    }
}

/* A random record of at most (exactly, with ignore_eos) bound tokens by
 * n_gen_tokens, else any record. */
static int choose_random(struct sim_dataset *d, long bound, bool ignore_eos, struct sim_rng *r,
                         struct rec *out)
{
    long n = count(d->q[ignore_eos ? Q_COUNT_EQ : Q_COUNT_LE], bound);
    if (n > 0)
        return pick(d->q[ignore_eos ? Q_PICK_EQ : Q_PICK_LE], bound,
                    (long)sim_rng_range(r, 0, n - 1), out);
    if (n < 0)
        return BAD_SQL;
    return pick(d->q[Q_PICK_ANY], 0, (long)sim_rng_range(r, 0, d->records - 1), out);
}

/* rec's first k tokens (all when fewer), then pad built-in tokens, as out. */
static void build(const struct rec *rec, long k, long pad, struct sim_rng *r, struct sim_gen *out)
{
    struct buf text;
    struct sim_gen extra;
    buf_init(&text, BUF_NOCAP);
    sim_gen_init(out);
    sim_gen_init(&extra);
    for (size_t i = 0; i < rec->n && (long)i < k; i++) {
        size_t off = text.len, len = strlen(rec->s[i]);
        int rc = buf_append(&text, rec->s[i], len);
        (void)rc; /* BUF_NOCAP */
        sim_toklist_push(&out->toks, text.data ? text.data : "", off, len);
        if (rec->ids)
            out->toks.v[out->toks.n - 1].id = rec->ids[i];
    }
    if (pad > 0) {
        sim_textgen_random(r, pad, &extra);
        size_t base = text.len;
        int rc = buf_append(&text, extra.text, extra.text_len);
        (void)rc;
        for (size_t i = 0; i < extra.toks.n; i++)
            sim_toklist_push(&out->toks, text.data, base + extra.toks.v[i].off,
                             extra.toks.v[i].len);
    }
    sim_gen_release(&extra);
    out->text = buf_take(&text, &out->text_len);
}

static int lookup(struct sim_dataset *d, const struct sim_prompt *p, long bound, bool ignore_eos,
                  struct sim_rng *r, struct rec *out)
{
    unsigned char hash[32];
    size_t nids;
    uint32_t *ids = sim_render_prompt_ids(p, &nids);
    struct rec *v;
    sim_dataset_hash(ids, nids, hash);
    free(ids);
    pthread_mutex_lock(&d->mu);
    sqlite3_bind_blob(d->q[Q_HASH], 1, hash, sizeof(hash), SQLITE_TRANSIENT);
    long n = read_recs(d->q[Q_HASH], &v);
    int rc = n < 0 ? (int)n : 0;
    if (n > 0)
        choose_matched(v, n, bound, ignore_eos, r, out);
    else if (n == 0)
        rc = choose_random(d, bound, ignore_eos, r, out);
    if (rc < 0)
        log_warn("dataset lookup failed, using built-in sentences",
                 LOG_STR("detail", rc == BAD_REC ? "a gen_tokens value is not a JSON list of "
                                                   "token strings"
                                                 : sqlite3_errmsg(d->db)));
    pthread_mutex_unlock(&d->mu);
    for (long i = 0; i < n; i++)
        rec_release(&v[i]);
    if (n >= 0)
        free(v);
    return rc;
}

int sim_dataset_generate(struct sim_dataset *d, struct sim_rng *r, const struct sim_prompt *p,
                         long max_tokens, bool ignore_eos, long max_model_len, struct sim_gen *out)
{
    long room = max_model_len - p->ntokens;
    long bound = max_tokens >= 0 && max_tokens < room ? max_tokens : room;
    struct rec rec;
    if (bound < 0)
        bound = 0;
    memset(&rec, 0, sizeof(rec));
    if (lookup(d, p, bound, ignore_eos, r, &rec) < 0)
        return -1;
    long len = (long)rec.n, k = len < bound ? len : bound;
    build(&rec, k, ignore_eos && len < bound ? bound - len : 0, r, out);
    out->finish = (long)out->toks.n == bound ? SIM_FINISH_LENGTH : SIM_FINISH_STOP;
    rec_release(&rec);
    return 0;
}
