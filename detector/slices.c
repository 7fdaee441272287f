/*
 * slices.c: the slice registry (see slices.h).
 *
 * Slices live in a dense array indexed by id; a linear-probing hash table
 * maps canonical keys to ids and uses backward-shift deletion, so eviction
 * leaves no tombstones. Keys are built per event in a stack buffer: each
 * dimension's `name=value` part once, pairs by joining two parts.
 */
#include "detector/slices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detector/hash.h"

#define KEY_MAX 1024 /* longest canonical key; longer slices are not created */

typedef struct slice {
    char *key; /* NULL when the index is free */
    uint32_t key_len;
    uint8_t kind;
    uint32_t parent;
    uint64_t hash;
    int64_t last_seen_ms;
} slice_t;

typedef struct bucket {
    uint64_t hash;
    uint32_t id; /* FS_SLICE_NONE = empty */
} bucket_t;

struct fs_slices {
    char **dims;
    size_t n_dims;
    uint8_t *pairs;
    size_t n_pairs;
    int error_codes;
    size_t max_slices;

    slice_t *slices;
    uint32_t capacity; /* one past the highest id ever used */
    uint32_t *free_ids;
    size_t n_free;
    size_t n_live;
    uint64_t overflow;

    bucket_t *table;
    size_t table_mask;
};

static size_t escaped_len(const char *s, size_t len)
{
    size_t n = len;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '\\' || s[i] == ',' || s[i] == '=')
            n++;
    return n;
}

/* Appends `name=escaped(value)` to buf at *used; returns -1 if it does not fit. */
static int append_part(char *buf, size_t *used, const char *name, size_t name_len,
                       const char *value, size_t value_len)
{
    size_t need = name_len + 1 + escaped_len(value, value_len);
    if (*used + need > KEY_MAX)
        return -1;
    char *p = buf + *used;
    memcpy(p, name, name_len);
    p += name_len;
    *p++ = '=';
    for (size_t i = 0; i < value_len; i++) {
        char c = value[i];
        if (c == '\\' || c == ',' || c == '=')
            *p++ = '\\';
        *p++ = c;
    }
    *used += need;
    return 0;
}

void fs_slices_free(fs_slices_t *s)
{
    if (!s)
        return;
    if (s->dims)
        for (size_t i = 0; i < s->n_dims; i++)
            free(s->dims[i]);
    free(s->dims);
    free(s->pairs);
    if (s->slices)
        for (uint32_t i = 0; i < s->capacity; i++)
            free(s->slices[i].key);
    free(s->slices);
    free(s->free_ids);
    free(s->table);
    free(s);
}

fs_slices_t *fs_slices_new(const char *const *dims, size_t n_dims, const uint8_t *pairs,
                           size_t n_pairs, int error_codes, size_t max_slices, char *err,
                           size_t err_size)
{
    fs_slices_t *s = NULL;
    if (n_dims > FS_MAX_DIMS || max_slices < 1 || max_slices >= FS_SLICE_NONE / 2) {
        snprintf(err, err_size, "too many dimensions or slices");
        return NULL;
    }
    for (size_t i = 0; i < 2 * n_pairs; i++) {
        if (pairs[i] >= n_dims) {
            snprintf(err, err_size, "pair names dimension %u of %zu", pairs[i], n_dims);
            return NULL;
        }
    }
    s = calloc(1, sizeof *s);
    if (!s)
        goto oom;
    s->n_dims = n_dims;
    s->n_pairs = n_pairs;
    s->error_codes = error_codes;
    s->max_slices = max_slices;
    s->dims = calloc(n_dims ? n_dims : 1, sizeof *s->dims);
    s->pairs = malloc(2 * n_pairs + 1);
    s->slices = calloc(max_slices, sizeof *s->slices);
    s->free_ids = malloc(max_slices * sizeof *s->free_ids);
    size_t table_size = 16;
    while (table_size < 2 * max_slices)
        table_size *= 2;
    s->table = malloc(table_size * sizeof *s->table);
    if (!s->dims || !s->pairs || !s->slices || !s->free_ids || !s->table)
        goto oom;
    s->table_mask = table_size - 1;
    for (size_t i = 0; i < table_size; i++)
        s->table[i].id = FS_SLICE_NONE;
    for (size_t i = 0; i < n_dims; i++)
        if (!(s->dims[i] = strdup(dims[i])))
            goto oom;
    memcpy(s->pairs, pairs, 2 * n_pairs);
    if (fs_slices_intern(s, "", 0) != FS_SLICE_ALL)
        goto oom;
    return s;
oom:
    snprintf(err, err_size, "out of memory");
    fs_slices_free(s);
    return NULL;
}

/* Looks a key up; returns its id or FS_SLICE_NONE, and the table position. */
static uint32_t lookup(const fs_slices_t *s, const char *key, size_t len, uint64_t hash,
                       size_t *pos_out)
{
    size_t pos = hash & s->table_mask;
    for (;;) {
        const bucket_t *b = &s->table[pos];
        if (b->id == FS_SLICE_NONE)
            break;
        if (b->hash == hash) {
            const slice_t *sl = &s->slices[b->id];
            if (sl->key_len == len && memcmp(sl->key, key, len) == 0) {
                *pos_out = pos;
                return b->id;
            }
        }
        pos = (pos + 1) & s->table_mask;
    }
    *pos_out = pos;
    return FS_SLICE_NONE;
}

static fs_slice_kind_t kind_of(const char *key, size_t len)
{
    if (len == 0)
        return FS_SLICE_KIND_ALL;
    if (len > 5 && memcmp(key, "code=", 5) == 0)
        return FS_SLICE_KIND_CODE;
    /* An unescaped ',' separates the two parts of a pair. */
    for (size_t i = 0; i < len; i++) {
        if (key[i] == '\\')
            i++;
        else if (key[i] == ',')
            return FS_SLICE_KIND_PAIR;
    }
    return FS_SLICE_KIND_DIM;
}

/* Inserts a new slice at table position pos; FS_SLICE_NONE at the bound. */
static uint32_t insert(fs_slices_t *s, const char *key, size_t len, uint64_t hash, size_t pos,
                       uint32_t parent)
{
    if (s->n_live >= s->max_slices)
        return FS_SLICE_NONE;
    char *copy = malloc(len + 1);
    if (!copy)
        return FS_SLICE_NONE;
    memcpy(copy, key, len);
    copy[len] = '\0';
    uint32_t id = s->n_free ? s->free_ids[--s->n_free] : s->capacity++;
    slice_t *sl = &s->slices[id];
    sl->key = copy;
    sl->key_len = (uint32_t)len;
    sl->hash = hash;
    sl->kind = (uint8_t)kind_of(key, len);
    sl->parent = parent;
    sl->last_seen_ms = INT64_MIN;
    s->table[pos].hash = hash;
    s->table[pos].id = id;
    s->n_live++;
    return id;
}

/* Finds or creates a slice, marking it seen at event_ms. */
static uint32_t find_or_add(fs_slices_t *s, const char *key, size_t len, uint32_t parent,
                            int64_t event_ms)
{
    uint64_t hash = fs_hash_bytes(key, len);
    size_t pos;
    uint32_t id = lookup(s, key, len, hash, &pos);
    if (id == FS_SLICE_NONE) {
        id = insert(s, key, len, hash, pos, parent);
        if (id == FS_SLICE_NONE) {
            s->overflow++;
            return id;
        }
    }
    if (event_ms > s->slices[id].last_seen_ms)
        s->slices[id].last_seen_ms = event_ms;
    return id;
}

/* The parent a key would have: the prefix before the first unescaped ',', or "". */
static uint32_t parent_of_key(fs_slices_t *s, const char *key, size_t len)
{
    fs_slice_kind_t kind = kind_of(key, len);
    if (kind == FS_SLICE_KIND_ALL)
        return FS_SLICE_NONE;
    if (kind != FS_SLICE_KIND_PAIR)
        return FS_SLICE_ALL;
    size_t i;
    for (i = 0; i < len; i++) {
        if (key[i] == '\\')
            i++;
        else if (key[i] == ',')
            break;
    }
    size_t pos;
    return lookup(s, key, i, fs_hash_bytes(key, i), &pos);
}

uint32_t fs_slices_find(const fs_slices_t *s, const char *key, size_t len)
{
    size_t pos;
    return lookup(s, key, len, fs_hash_bytes(key, len), &pos);
}

uint32_t fs_slices_intern(fs_slices_t *s, const char *key, size_t len)
{
    if (len > KEY_MAX)
        return FS_SLICE_NONE;
    return find_or_add(s, key, len, parent_of_key(s, key, len), INT64_MIN);
}

void fs_slices_expand(fs_slices_t *s, const fs_event_t *ev, fs_slice_set_t *set)
{
    char buf[KEY_MAX * 2 + 1];
    size_t part_start[FS_MAX_DIMS], part_len[FS_MAX_DIMS];
    uint32_t dim_id[FS_MAX_DIMS];
    size_t used = 0;

    set->n = 0;
    set->ids[set->n++] = find_or_add(s, "", 0, FS_SLICE_NONE, ev->ts_ms);
    for (size_t d = 0; d < s->n_dims; d++) {
        part_start[d] = used;
        if (append_part(buf, &used, s->dims[d], strlen(s->dims[d]), ev->dims[d].ptr,
                        ev->dims[d].len) != 0) {
            part_len[d] = 0;
            dim_id[d] = FS_SLICE_NONE;
            s->overflow++;
            continue;
        }
        part_len[d] = used - part_start[d];
        dim_id[d] = find_or_add(s, buf + part_start[d], part_len[d], FS_SLICE_ALL, ev->ts_ms);
        if (dim_id[d] != FS_SLICE_NONE)
            set->ids[set->n++] = dim_id[d];
    }
    for (size_t p = 0; p < s->n_pairs; p++) {
        uint8_t a = s->pairs[2 * p], b = s->pairs[2 * p + 1];
        if (a > b) {
            uint8_t t = a;
            a = b;
            b = t;
        }
        if (part_len[a] == 0 || part_len[b] == 0)
            continue;
        char pair[KEY_MAX * 2 + 1];
        size_t len = part_len[a] + 1 + part_len[b];
        memcpy(pair, buf + part_start[a], part_len[a]);
        pair[part_len[a]] = ',';
        memcpy(pair + part_len[a] + 1, buf + part_start[b], part_len[b]);
        uint32_t id = find_or_add(s, pair, len, dim_id[a] == FS_SLICE_NONE ? FS_SLICE_ALL : dim_id[a],
                                  ev->ts_ms);
        if (id != FS_SLICE_NONE)
            set->ids[set->n++] = id;
    }
    if (s->error_codes && ev->kind == FS_EVENT_ERROR) {
        size_t code_used = 0;
        if (append_part(buf, &code_used, "code", 4, ev->code.ptr, ev->code.len) == 0) {
            uint32_t id = find_or_add(s, buf, code_used, FS_SLICE_ALL, ev->ts_ms);
            if (id != FS_SLICE_NONE)
                set->ids[set->n++] = id;
        } else {
            s->overflow++;
        }
    }
}

/* Removes table position pos with backward-shift deletion. */
static void table_remove(fs_slices_t *s, size_t pos)
{
    size_t hole = pos;
    size_t next = (pos + 1) & s->table_mask;
    while (s->table[next].id != FS_SLICE_NONE) {
        size_t home = s->table[next].hash & s->table_mask;
        /* Move next into the hole if its home is not in (hole, next]. */
        if (((next - home) & s->table_mask) >= ((next - hole) & s->table_mask)) {
            s->table[hole] = s->table[next];
            hole = next;
        }
        next = (next + 1) & s->table_mask;
    }
    s->table[hole].id = FS_SLICE_NONE;
}

size_t fs_slices_evict(fs_slices_t *s, int64_t older_than_ms,
                       int (*keep)(void *opaque, uint32_t id), void *opaque)
{
    size_t evicted = 0;
    for (uint32_t id = 1; id < s->capacity; id++) {
        slice_t *sl = &s->slices[id];
        if (!sl->key || sl->last_seen_ms >= older_than_ms || (keep && keep(opaque, id)))
            continue;
        size_t pos;
        if (lookup(s, sl->key, sl->key_len, sl->hash, &pos) == id)
            table_remove(s, pos);
        free(sl->key);
        memset(sl, 0, sizeof *sl);
        s->free_ids[s->n_free++] = id;
        s->n_live--;
        evicted++;
    }
    /* Children whose parent went away borrow from all traffic instead. */
    for (uint32_t id = 1; id < s->capacity; id++)
        if (s->slices[id].key && s->slices[id].parent != FS_SLICE_NONE &&
            !s->slices[s->slices[id].parent].key)
            s->slices[id].parent = FS_SLICE_ALL;
    return evicted;
}

uint32_t fs_slices_capacity(const fs_slices_t *s)
{
    return s->capacity;
}

int fs_slices_live(const fs_slices_t *s, uint32_t id)
{
    return id < s->capacity && s->slices[id].key != NULL;
}

size_t fs_slices_count(const fs_slices_t *s)
{
    return s->n_live;
}

uint64_t fs_slices_overflow(const fs_slices_t *s)
{
    return s->overflow;
}

const char *fs_slices_key(const fs_slices_t *s, uint32_t id)
{
    return s->slices[id].key;
}

fs_slice_kind_t fs_slices_kind(const fs_slices_t *s, uint32_t id)
{
    return (fs_slice_kind_t)s->slices[id].kind;
}

uint32_t fs_slices_parent(const fs_slices_t *s, uint32_t id)
{
    return s->slices[id].parent;
}

void fs_slices_seen(fs_slices_t *s, uint32_t id, int64_t event_ms)
{
    if (id < s->capacity && s->slices[id].key && event_ms > s->slices[id].last_seen_ms)
        s->slices[id].last_seen_ms = event_ms;
}

int64_t fs_slices_last_seen(const fs_slices_t *s, uint32_t id)
{
    return s->slices[id].last_seen_ms;
}

int fs_slice_key_parts(const char *key,
                       void (*cb)(void *opaque, const char *name, size_t name_len,
                                  const char *value, size_t value_len),
                       void *opaque)
{
    char value[KEY_MAX];
    const char *p = key;
    while (*p) {
        const char *eq = strchr(p, '=');
        if (!eq || eq == p)
            return -1;
        size_t n = 0;
        const char *q = eq + 1;
        while (*q && *q != ',') {
            if (*q == '\\') {
                q++;
                if (!*q)
                    return -1;
            }
            if (n >= sizeof value)
                return -1;
            value[n++] = *q++;
        }
        cb(opaque, p, (size_t)(eq - p), value, n);
        p = *q == ',' ? q + 1 : q;
    }
    return 0;
}
