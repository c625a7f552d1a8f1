#include "simulator/sim_dataset.h"
#include "simulator/sim_render.h"

#include <pthread.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64];

static void sql(sqlite3 *db, const char *q)
{
    char *msg = NULL;
    if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", q, msg);
}

static void prompt_of(const char *text, struct sim_request *req)
{
    char body[512], err[256];
    const char *param;
    snprintf(body, sizeof(body), "{\"prompt\":\"%s\"}", text);
    if (sim_request_parse(SIM_API_COMPLETIONS, body, strlen(body), req, err, sizeof(err), &param))
        fail_msg("%s", err);
}

/* A record for prompt text (NULL: a hash no prompt has). */
static void add(sqlite3 *db, const char *prompt, const char *gen, long n)
{
    unsigned char h[32];
    memset(h, 0x5a, sizeof(h));
    if (prompt) {
        struct sim_request req;
        size_t nids;
        prompt_of(prompt, &req);
        uint32_t *ids = sim_render_prompt_ids(&req.prompts[0], &nids);
        sim_dataset_hash(ids, nids, h);
        free(ids);
        sim_request_release(&req);
    }
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "INSERT INTO llmd (prompt_hash, gen_tokens, n_gen_tokens) "
                                        "VALUES (?, ?, ?)",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, h, 32, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, gen, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, n);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

static const char *db_path(const char *name)
{
    static char p[128];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return p;
}

static sqlite3 *new_db(const char *name, const char *schema)
{
    sqlite3 *db;
    unlink(db_path(name));
    assert_int_equal(sqlite3_open(db_path(name), &db), SQLITE_OK);
    sql(db, schema);
    return db;
}

#define SCHEMA                                                                                     \
    "CREATE TABLE llmd (id INTEGER PRIMARY KEY, prompt_hash BLOB NOT NULL, gen_tokens JSON NOT "   \
    "NULL, n_gen_tokens INTEGER NOT NULL)"

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/pdsim-ds-XXXXXX");
    assert_non_null(mkdtemp(dir));
    sqlite3 *db = new_db("good.db", SCHEMA);
    add(db, "Hello there", "[\"Short \",\"one.\"]", 2);
    add(db, "Hello there",
        "{\"strings\":[\"A \",\"longer \",\"recorded \",\"answer \",\"it \","
        "\"is.\"],\"numbers\":[1,2,3,4,5,6]}",
        6);
    add(db, NULL, "[\"Other \",\"record \",\"of \",\"five \",\"tokens.\"]", 5);
    add(db, "Bad record", "{\"strings\":\"nope\"}", 100000); /* found by its hash only */
    sqlite3_close(db);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_hash(void **state)
{
    (void)state;
    const uint32_t ids[] = {1, 2, 3};
    unsigned char h[32];
    char hex[65];
    sim_dataset_hash(ids, 3, h); /* SHA-256 of 01000000 02000000 03000000 */
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    assert_string_equal(hex, "4636993d3e1da4e9d6b8f87b79e8f7c6d018580d52661950eabc3845c5897a4d");
}

static void test_open_errors(void **state)
{
    (void)state;
    char err[512];
    struct sim_dataset *d = NULL;
    static const struct {
        const char *file, *schema, *table, *url, *want;
    } cases[] = {
        {"none.db", NULL, "llmd", NULL, "/none.db: No such file"},
        {"none.db", NULL, "llmd", "https://h/x.db",
         "--dataset-url https://h/x.db: pdsim-simulator does not download"},
        {"text.db", "", "llmd", NULL, "file is not a database"},
        {"good.db", NULL, "other", NULL, "no table \"other\" (--dataset-table-name)"},
        {"type.db",
         "CREATE TABLE llmd (id INTEGER, prompt_hash TEXT, gen_tokens JSON, n_gen_tokens INTEGER)",
         "llmd", NULL, "column prompt_hash has type TEXT, expected BLOB"},
        {"miss.db", "CREATE TABLE llmd (id INTEGER, prompt_hash BLOB, gen_tokens JSON)", "llmd",
         NULL, "table \"llmd\" has no column n_gen_tokens"},
        {"empty.db", SCHEMA, "llmd", NULL, "table \"llmd\" has no records"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *want = cases[i].want;
        if (cases[i].schema && !*cases[i].schema) {
            FILE *f = fopen(db_path(cases[i].file), "w");
            fputs("not sqlite, just text that is long enough to be looked at by sqlite\n", f);
            fclose(f);
        } else if (cases[i].schema) {
            sqlite3_close(new_db(cases[i].file, cases[i].schema));
        }
        for (int mem = 0; mem < 2; mem++) {
            struct sim_dataset_opts o = {db_path(cases[i].file), cases[i].url, cases[i].table,
                                         mem == 1};
            err[0] = '\0';
            assert_int_equal(sim_dataset_open(&o, &d, err, sizeof(err)), -1);
            if (!strstr(err, want))
                fail_msg("case %zu (mem %d): \"%s\" lacks \"%s\"", i, mem, err, want);
        }
    }
}

static struct sim_dataset *open_good(bool in_memory)
{
    char err[512];
    struct sim_dataset *d = NULL;
    struct sim_dataset_opts o = {db_path("good.db"), "https://unused/when/the/file/exists", "llmd",
                                 in_memory};
    if (sim_dataset_open(&o, &d, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    assert_int_equal(sim_dataset_records(d), 4);
    return d;
}

/* max_tokens (-1: none), ignore_eos -> text and finish, for prompt. */
static void gen(struct sim_dataset *d, uint64_t seed, const char *prompt, long max, bool eos,
                struct sim_gen *g)
{
    struct sim_request req;
    struct sim_rng r;
    sim_rng_seed(&r, seed);
    prompt_of(prompt, &req);
    sim_gen_init(g);
    assert_int_equal(sim_dataset_generate(d, &r, &req.prompts[0], max, eos, 1024, g), 0);
    sim_request_release(&req);
}

static void check_generate(struct sim_dataset *d)
{
    struct sim_gen g;
    /* the prompt's records: the one that fits */
    gen(d, 1, "Hello there", 4, false, &g);
    assert_string_equal(g.text, "Short one.");
    assert_int_equal(g.finish, SIM_FINISH_STOP);
    sim_gen_release(&g);
    /* none fits: one cut to max_tokens, finish length */
    gen(d, 1, "Hello there", 1, false, &g);
    assert_true(strcmp(g.text, "Short ") == 0 || strcmp(g.text, "A ") == 0);
    assert_int_equal(g.finish, SIM_FINISH_LENGTH);
    sim_gen_release(&g);
    /* ignore_eos: exactly max_tokens long; its token ids are the record's numbers */
    gen(d, 1, "Hello there", 6, true, &g);
    assert_string_equal(g.text, "A longer recorded answer it is.");
    assert_int_equal(g.toks.n, 6);
    assert_true(g.toks.v[0].id == 1 && g.toks.v[5].id == 6);
    assert_int_equal(g.finish, SIM_FINISH_LENGTH);
    sim_gen_release(&g);
    /* ignore_eos past every record: padded with the built-in sentences */
    gen(d, 1, "Hello there", 9, true, &g);
    assert_int_equal(g.toks.n, 9);
    assert_true(strncmp(g.text, "Short one.", 10) == 0 || strncmp(g.text, "A longer", 8) == 0);
    assert_int_equal(g.finish, SIM_FINISH_LENGTH);
    sim_gen_release(&g);
    /* without max_tokens both fit; over seeds both get picked */
    bool seen_short = false, seen_long = false;
    for (uint64_t s = 0; s < 64; s++) {
        gen(d, s, "Hello there", -1, false, &g);
        seen_short = seen_short || strcmp(g.text, "Short one.") == 0;
        seen_long = seen_long || strcmp(g.text, "A longer recorded answer it is.") == 0;
        assert_int_equal(g.finish, SIM_FINISH_STOP);
        sim_gen_release(&g);
    }
    assert_true(seen_short && seen_long);
    /* another prompt: a random record within max_tokens (the 5-token one, or the 2-token one) */
    gen(d, 3, "Something else", 5, false, &g);
    assert_true(strcmp(g.text, "Other record of five tokens.") == 0 ||
                strcmp(g.text, "Short one.") == 0);
    sim_gen_release(&g);
    /* ignore_eos: a record of exactly max_tokens by n_gen_tokens */
    gen(d, 3, "Something else", 5, true, &g);
    assert_string_equal(g.text, "Other record of five tokens.");
    assert_int_equal(g.finish, SIM_FINISH_LENGTH);
    sim_gen_release(&g);
    /* the same seed, the same answer */
    struct sim_gen g2;
    gen(d, 42, "Unknown prompt", -1, false, &g);
    gen(d, 42, "Unknown prompt", -1, false, &g2);
    assert_string_equal(g.text, g2.text);
    sim_gen_release(&g);
    sim_gen_release(&g2);
    /* a malformed record: -1 and out untouched, for the caller's fallback */
    struct sim_request req;
    struct sim_rng r;
    sim_rng_seed(&r, 1);
    prompt_of("Bad record", &req);
    sim_gen_init(&g);
    assert_int_equal(sim_dataset_generate(d, &r, &req.prompts[0], -1, false, 1024, &g), -1);
    assert_null(g.text);
    sim_request_release(&req);
}

static void test_generate_file(void **state)
{
    (void)state;
    struct sim_dataset *d = open_good(false);
    check_generate(d);
    sim_dataset_free(d);
}

static void test_generate_in_memory(void **state)
{
    (void)state;
    struct sim_dataset *d = open_good(true);
    check_generate(d);
    sim_dataset_free(d);
}

static void *worker(void *arg)
{
    struct sim_dataset *d = arg;
    for (int i = 0; i < 200; i++) {
        struct sim_gen g;
        gen(d, (uint64_t)i, i % 2 ? "Hello there" : "Other", 3, false, &g);
        if (g.toks.n == 0 || g.toks.n > 3)
            return (void *)1;
        sim_gen_release(&g);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct sim_dataset *d = open_good(true);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, d), 0);
    for (int i = 0; i < 4; i++) {
        void *rv;
        pthread_join(t[i], &rv);
        assert_null(rv);
    }
    sim_dataset_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),          cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_generate_file), cmocka_unit_test(test_generate_in_memory),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
