/*
 * ycfg: load a flat YAML configuration file (key: scalar, or key: [list of
 * scalars]) with line numbers, for --config files whose keys are flag names.
 *
 * It only reads; the caller decides what keys mean. Nested mappings are
 * rejected with the key and line. Not for Kubernetes objects (those use
 * libyaml directly in the controller).
 */
#ifndef PDSIM_COMMON_YCFG_H
#define PDSIM_COMMON_YCFG_H

#include <stdbool.h>
#include <stddef.h>

struct ycfg_entry {
    char *key;
    int line;     /* 1-based line of the key */
    bool is_list; /* value was a YAML sequence */
    bool is_map;  /* value was a mapping (ycfg_load_file_maps only): no items */
    char **items; /* scalars; a plain scalar has exactly one; "null"/"~" scalars are "" */
    size_t nitems;
};

struct ycfg {
    struct ycfg_entry *v; /* owned */
    size_t n;
};

/* Parse text. Returns 0, or -EBADMSG with "line N: reason" in err; on error
 * *out is left empty. Caller releases with ycfg_release. Duplicate keys and a
 * top level that is not a mapping are errors; an empty document is not. */
int ycfg_parse(const char *text, size_t len, struct ycfg *out, char *err, size_t errlen);
/* Read and parse a file. -ENOENT etc. when it cannot be read (err says so). */
int ycfg_load_file(const char *path, struct ycfg *out, char *err, size_t errlen);
/* The same, but a mapping value is an entry with is_map set and no items,
 * for keys whose caller reads the nested value itself (through yamljson). */
int ycfg_load_file_maps(const char *path, struct ycfg *out, char *err, size_t errlen);
void ycfg_release(struct ycfg *c);

#endif
