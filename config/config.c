/*
 * config.c: the configuration loader (see config.h).
 *
 * Values are parsed by type into a scratch value first and stored only when
 * valid, so a bad line never leaves a half-written field. Every problem is
 * collected, not just the first, so one --check-config run lists them all.
 */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config/keys.h"

#define KAFKA_PREFIX "kafka."
#define LINE_MAX_BYTES 8192

/* How a value was set, to tell duplicates from overrides. */
enum set_by { SET_DEFAULT = 0, SET_FILE, SET_OVERRIDE };

struct fs_config_private {
    fs_config_origin_t *origin; /* per key of the table */
    enum set_by *set_by;        /* per key of the table */
    enum set_by *kafka_set_by;  /* per kafka property, parallel to cfg->kafka */
    char **files;               /* interned origin file names */
    size_t n_files;
};

typedef union value {
    char *str;
    int64_t num;
    double real;
    fs_strlist_t list;
} value_t;

static void strlist_free(fs_strlist_t *list)
{
    for (size_t i = 0; i < list->n; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->n = 0;
}

int fs_config_diag_add(fs_config_diag_t *diag, fs_config_origin_t origin, const char *key,
                       const char *fmt, ...)
{
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);

    char *msg = NULL;
    size_t len = strlen(reason) + strlen(key) + (origin.file ? strlen(origin.file) : 0) + 64;
    char **grown = realloc(diag->messages, (diag->n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    diag->messages = grown;
    msg = malloc(len);
    if (!msg)
        return -1;
    if (origin.file)
        snprintf(msg, len, "%s:%d: %s: %s", origin.file, origin.line, key, reason);
    else
        snprintf(msg, len, "%s: %s", key, reason);
    diag->messages[diag->n++] = msg;
    return 0;
}

void fs_config_diag_clear(fs_config_diag_t *diag)
{
    for (size_t i = 0; i < diag->n; i++)
        free(diag->messages[i]);
    free(diag->messages);
    diag->messages = NULL;
    diag->n = 0;
}

/* ---- parsing of single values; each returns NULL or a static reason ---- */

static const char *parse_int(const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end != '\0')
        return "not an integer";
    if (errno == ERANGE)
        return "integer out of range";
    *out = v;
    return NULL;
}

static const char *parse_duration(const char *text, int64_t *out_ms)
{
    static const struct {
        const char *suffix;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || !isdigit((unsigned char)text[0]))
        return "not a duration (a whole number with a unit: ms, s, m, h or d, e.g. 5s)";
    if (*end == '\0')
        return "duration needs a unit (ms, s, m, h or d), e.g. 5s";
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            if (errno == ERANGE || v > INT64_MAX / units[i].ms)
                return "duration out of range";
            *out_ms = v * units[i].ms;
            return NULL;
        }
    }
    return "unknown duration unit (use ms, s, m, h or d)";
}

static const char *parse_list(const char *text, fs_strlist_t *out)
{
    fs_strlist_t list = {0};
    const char *reason = NULL;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        while (len > 0 && isspace((unsigned char)p[len - 1]))
            len--;
        if (len == 0) {
            reason = "empty item in list";
            goto fail;
        }
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)p[i];
            if (!isalnum(c) && c != '_' && c != '-' && c != '.' && c != '+') {
                reason = "list items may contain only letters, digits, '_', '-', '.' and '+'";
                goto fail;
            }
        }
        for (size_t i = 0; i < list.n; i++) {
            if (strlen(list.items[i]) == len && memcmp(list.items[i], p, len) == 0) {
                reason = "item repeated in list";
                goto fail;
            }
        }
        char **grown = realloc(list.items, (list.n + 1) * sizeof *grown);
        if (!grown) {
            reason = "out of memory";
            goto fail;
        }
        list.items = grown;
        list.items[list.n] = strndup(p, len);
        if (!list.items[list.n]) {
            reason = "out of memory";
            goto fail;
        }
        list.n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    *out = list;
    return NULL;
fail:
    strlist_free(&list);
    return reason;
}

static const char *check_address(const char *text)
{
    if (text[0] == '/')
        return NULL;
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text)
        return "not an address (HOST:PORT or an absolute Unix socket path)";
    int64_t port;
    if (parse_int(colon + 1, &port) != NULL || port < 1 || port > 65535)
        return "port must be an integer from 1 to 65535";
    return NULL;
}

/*
 * Parses text as key's type into *v. Writes a reason into `reason` on failure
 * and returns -1.
 */
static int parse_value(const fs_key_t *key, const char *text, value_t *v, char *reason,
                       size_t reason_size)
{
    const char *why = NULL;
    memset(v, 0, sizeof *v);
    if (text[0] == '\0' && key->type == FS_KEY_LIST)
        return 0; /* an empty list: e.g. no pairs */
    if (text[0] == '\0' && key->type == FS_KEY_STRING && key->default_value[0] == '\0')
        return (v->str = strdup("")) ? 0 : -1; /* an optional string, empty by default */
    if (text[0] == '\0') {
        snprintf(reason, reason_size, "empty value (expected %s)", fs_key_type_name(key->type));
        return -1;
    }
    switch (key->type) {
    case FS_KEY_STRING:
    case FS_KEY_ADDRESS:
        if (key->type == FS_KEY_ADDRESS)
            why = check_address(text);
        if (!why && !(v->str = strdup(text)))
            why = "out of memory";
        break;
    case FS_KEY_INT:
    case FS_KEY_DURATION:
        why = key->type == FS_KEY_INT ? parse_int(text, &v->num) : parse_duration(text, &v->num);
        if (!why && key->min <= key->max && (v->num < key->min || v->num > key->max)) {
            if (key->type == FS_KEY_DURATION)
                snprintf(reason, reason_size, "%s is out of range (%lldms to %lldms)", text,
                         (long long)key->min, (long long)key->max);
            else
                snprintf(reason, reason_size, "%s is out of range (%lld to %lld)", text,
                         (long long)key->min, (long long)key->max);
            return -1;
        }
        break;
    case FS_KEY_DOUBLE: {
        char *end;
        errno = 0;
        v->real = strtod(text, &end);
        if (end == text || *end != '\0' || errno == ERANGE || !(v->real > 0) ||
            v->real > 1e12)
            why = "not a positive number";
        break;
    }
    case FS_KEY_BOOL:
        if (strcmp(text, "true") == 0)
            v->num = 1;
        else if (strcmp(text, "false") == 0)
            v->num = 0;
        else
            why = "not a boolean (true or false)";
        break;
    case FS_KEY_ENUM: {
        size_t i;
        for (i = 0; key->choices[i]; i++)
            if (strcmp(key->choices[i], text) == 0)
                break;
        if (!key->choices[i]) {
            size_t used = (size_t)snprintf(reason, reason_size, "'%s' is not one of", text);
            for (i = 0; key->choices[i] && used < reason_size; i++)
                used += (size_t)snprintf(reason + used, reason_size - used, "%s %s",
                                         i ? "," : "", key->choices[i]);
            return -1;
        }
        v->num = (int64_t)i;
        break;
    }
    case FS_KEY_LIST:
        why = parse_list(text, &v->list);
        break;
    }
    if (why) {
        snprintf(reason, reason_size, "%s", why);
        return -1;
    }
    return 0;
}

/* Moves a parsed value into its field, freeing what it replaces. */
static void store_value(fs_config_t *cfg, const fs_key_t *key, value_t *v)
{
    char *field = (char *)cfg + key->offset;
    switch (key->type) {
    case FS_KEY_STRING:
    case FS_KEY_ADDRESS: {
        char **slot = (char **)(void *)field;
        free(*slot);
        *slot = v->str;
        break;
    }
    case FS_KEY_INT:
    case FS_KEY_DURATION:
        *(int64_t *)(void *)field = v->num;
        break;
    case FS_KEY_BOOL:
    case FS_KEY_ENUM:
        *(int *)(void *)field = (int)v->num;
        break;
    case FS_KEY_DOUBLE:
        *(double *)(void *)field = v->real;
        break;
    case FS_KEY_LIST: {
        fs_strlist_t *slot = (fs_strlist_t *)(void *)field;
        strlist_free(slot);
        *slot = v->list;
        break;
    }
    }
    memset(v, 0, sizeof *v);
}

static void release_value(fs_config_t *cfg, const fs_key_t *key)
{
    char *field = (char *)cfg + key->offset;
    if (key->type == FS_KEY_STRING || key->type == FS_KEY_ADDRESS) {
        char **slot = (char **)(void *)field;
        free(*slot);
        *slot = NULL;
    } else if (key->type == FS_KEY_LIST) {
        strlist_free((fs_strlist_t *)(void *)field);
    }
}

/* ---- construction ---- */

static int set_kafka_default(fs_config_t *cfg, const char *prop, const char *value,
                             fs_config_origin_t origin, fs_config_diag_t *diag);

fs_config_t *fs_config_new(void)
{
    fs_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        goto fail;
    cfg->priv = calloc(1, sizeof *cfg->priv);
    if (!cfg->priv)
        goto fail;
    cfg->priv->origin = calloc(fs_config_n_keys, sizeof *cfg->priv->origin);
    cfg->priv->set_by = calloc(fs_config_n_keys, sizeof *cfg->priv->set_by);
    if (!cfg->priv->origin || !cfg->priv->set_by)
        goto fail;
    for (size_t i = 0; i < fs_config_n_keys; i++)
        if (fs_config_set_default(cfg, fs_config_keys[i].name, fs_config_keys[i].default_value))
            goto fail;
    for (size_t i = 0; i < fs_kafka_n_defaults; i++) {
        fs_config_diag_t diag = {0};
        fs_config_origin_t none = {NULL, 0};
        int problems = set_kafka_default(cfg, fs_kafka_defaults[i].name,
                                         fs_kafka_defaults[i].value, none, &diag);
        fs_config_diag_clear(&diag);
        if (problems)
            goto fail;
    }
    return cfg;
fail:
    fs_config_free(cfg);
    return NULL;
}

void fs_config_free(fs_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < fs_config_n_keys; i++)
        release_value(cfg, &fs_config_keys[i]);
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        free(cfg->kafka[i].name);
        free(cfg->kafka[i].value);
    }
    free(cfg->kafka);
    if (cfg->priv) {
        for (size_t i = 0; i < cfg->priv->n_files; i++)
            free(cfg->priv->files[i]);
        free(cfg->priv->files);
        free(cfg->priv->origin);
        free(cfg->priv->set_by);
        free(cfg->priv->kafka_set_by);
        free(cfg->priv);
    }
    free(cfg);
}

int fs_config_set_default(fs_config_t *cfg, const char *name, const char *value)
{
    const fs_key_t *key = fs_config_key_find(name);
    char reason[256];
    value_t v;
    if (!key || parse_value(key, value, &v, reason, sizeof reason) != 0)
        return -1;
    store_value(cfg, key, &v);
    return 0;
}

/* Keeps one copy of each origin file name for the lifetime of cfg. */
static const char *intern_file(fs_config_t *cfg, const char *file)
{
    struct fs_config_private *priv = cfg->priv;
    for (size_t i = 0; i < priv->n_files; i++)
        if (strcmp(priv->files[i], file) == 0)
            return priv->files[i];
    char **grown = realloc(priv->files, (priv->n_files + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    priv->files = grown;
    if (!(priv->files[priv->n_files] = strdup(file)))
        return NULL;
    return priv->files[priv->n_files++];
}

/* Describes where an earlier setting was made, for duplicate messages. */
static void describe_origin(fs_config_origin_t o, char *buf, size_t size)
{
    if (!o.file)
        snprintf(buf, size, "the default");
    else if (strcmp(o.file, "-X") == 0)
        snprintf(buf, size, "-X override %d", o.line);
    else
        snprintf(buf, size, "line %d", o.line);
}

static int set_kafka(fs_config_t *cfg, const char *name, const char *value,
                     fs_config_origin_t origin, enum set_by by, fs_config_diag_t *diag)
{
    const char *prop = name + strlen(KAFKA_PREFIX);
    if (prop[0] == '\0')
        return fs_config_diag_add(diag, origin, name, "missing librdkafka property name"), 1;
    if (value[0] == '\0')
        return fs_config_diag_add(diag, origin, name, "empty value"), 1;
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        fs_kafka_prop_t *kp = &cfg->kafka[i];
        if (strcmp(kp->name, prop) != 0)
            continue;
        if (cfg->priv->kafka_set_by[i] == by) {
            char where[64];
            describe_origin(kp->origin, where, sizeof where);
            fs_config_diag_add(diag, origin, name, "set twice (first at %s)", where);
            return 1;
        }
        char *copy = strdup(value);
        if (!copy)
            return fs_config_diag_add(diag, origin, name, "out of memory"), 1;
        free(kp->value);
        kp->value = copy;
        kp->origin = origin;
        cfg->priv->kafka_set_by[i] = by;
        return 0;
    }
    fs_kafka_prop_t *grown = realloc(cfg->kafka, (cfg->n_kafka + 1) * sizeof *grown);
    if (grown)
        cfg->kafka = grown;
    enum set_by *grown_by =
        realloc(cfg->priv->kafka_set_by, (cfg->n_kafka + 1) * sizeof *grown_by);
    if (grown_by)
        cfg->priv->kafka_set_by = grown_by;
    if (!grown || !grown_by)
        return fs_config_diag_add(diag, origin, name, "out of memory"), 1;
    fs_kafka_prop_t *kp = &cfg->kafka[cfg->n_kafka];
    kp->name = strdup(prop);
    kp->value = strdup(value);
    kp->origin = origin;
    if (!kp->name || !kp->value) {
        free(kp->name);
        free(kp->value);
        return fs_config_diag_add(diag, origin, name, "out of memory"), 1;
    }
    cfg->priv->kafka_set_by[cfg->n_kafka++] = by;
    return 0;
}

/* Sets one key from text; returns the number of problems (0 or 1). */
static int set_key(fs_config_t *cfg, const char *name, const char *value,
                   fs_config_origin_t origin, enum set_by by, fs_config_diag_t *diag)
{
    if (strncmp(name, KAFKA_PREFIX, strlen(KAFKA_PREFIX)) == 0)
        return set_kafka(cfg, name, value, origin, by, diag);

    const fs_key_t *key = fs_config_key_find(name);
    if (!key) {
        fs_config_diag_add(diag, origin, name, "unknown key");
        return 1;
    }
    size_t idx = (size_t)(key - fs_config_keys);
    if (cfg->priv->set_by[idx] == by) {
        char where[64];
        describe_origin(cfg->priv->origin[idx], where, sizeof where);
        fs_config_diag_add(diag, origin, name, "set twice (first at %s)", where);
        return 1;
    }
    char reason[512];
    value_t v;
    if (parse_value(key, value, &v, reason, sizeof reason) != 0) {
        fs_config_diag_add(diag, origin, name, "%s", reason);
        return 1;
    }
    store_value(cfg, key, &v);
    cfg->priv->origin[idx] = origin;
    cfg->priv->set_by[idx] = by;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return s;
}

int fs_config_load_file(fs_config_t *cfg, const char *path, fs_config_diag_t *diag)
{
    fs_config_origin_t origin = {intern_file(cfg, path), 0};
    if (!origin.file)
        return fs_config_diag_add(diag, origin, "(file)", "out of memory"), -1;
    FILE *f = fopen(path, "r");
    if (!f) {
        char buf[300];
        snprintf(buf, sizeof buf, "%s: cannot open: %s", path, strerror(errno));
        char *msg = strdup(buf);
        char **grown = realloc(diag->messages, (diag->n + 1) * sizeof *grown);
        if (grown && msg) {
            diag->messages = grown;
            diag->messages[diag->n++] = msg;
        } else {
            free(msg);
            if (grown)
                diag->messages = grown;
        }
        return -1;
    }

    int problems = 0;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t got;
    while ((got = getline(&line, &line_cap, f)) >= 0) {
        origin.line++;
        size_t len = (size_t)got;
        if (memchr(line, '\0', len)) {
            fs_config_diag_add(diag, origin, "(line)", "contains a NUL byte");
            problems++;
            continue;
        }
        if (len > LINE_MAX_BYTES) {
            fs_config_diag_add(diag, origin, "(line)", "longer than %d bytes", LINE_MAX_BYTES);
            problems++;
            continue;
        }
        char *text = trim(line);
        if (text[0] == '\0' || text[0] == '#')
            continue;
        char *eq = strchr(text, '=');
        if (!eq) {
            fs_config_diag_add(diag, origin, trim(text), "expected `key = value`");
            problems++;
            continue;
        }
        *eq = '\0';
        char *name = trim(text);
        char *value = trim(eq + 1);
        if (name[0] == '\0') {
            fs_config_diag_add(diag, origin, "(line)", "missing key before '='");
            problems++;
            continue;
        }
        problems += set_key(cfg, name, value, origin, SET_FILE, diag);
    }
    if (ferror(f)) {
        fs_config_diag_add(diag, origin, "(file)", "read error: %s", strerror(errno));
        problems++;
    }
    free(line);
    fclose(f);
    return problems;
}

int fs_config_override(fs_config_t *cfg, const char *assignment, int position,
                       fs_config_diag_t *diag)
{
    fs_config_origin_t origin = {intern_file(cfg, "-X"), position};
    if (!origin.file)
        return fs_config_diag_add(diag, origin, assignment, "out of memory"), 1;
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) {
        fs_config_diag_add(diag, origin, assignment, "expected key=value");
        return 1;
    }
    char name[256];
    size_t len = (size_t)(eq - assignment);
    if (len >= sizeof name) {
        fs_config_diag_add(diag, origin, "(key)", "key longer than %zu bytes", sizeof name - 1);
        return 1;
    }
    memcpy(name, assignment, len);
    name[len] = '\0';
    return set_key(cfg, name, eq + 1, origin, SET_OVERRIDE, diag);
}

static int dimension_index(const fs_config_t *cfg, const char *name, size_t len)
{
    for (size_t i = 0; i < cfg->dimensions.n; i++)
        if (strlen(cfg->dimensions.items[i]) == len &&
            memcmp(cfg->dimensions.items[i], name, len) == 0)
            return (int)i;
    return -1;
}

/* The default pairs apply only where both of their dimensions are configured. */
static void drop_default_pairs(fs_config_t *cfg)
{
    fs_strlist_t *pairs = &cfg->slices_pairs;
    size_t kept = 0;
    for (size_t i = 0; i < pairs->n; i++) {
        const char *plus = strchr(pairs->items[i], '+');
        if (plus && dimension_index(cfg, pairs->items[i], (size_t)(plus - pairs->items[i])) >= 0 &&
            dimension_index(cfg, plus + 1, strlen(plus + 1)) >= 0)
            pairs->items[kept++] = pairs->items[i];
        else
            free(pairs->items[i]);
    }
    pairs->n = kept;
}

/* Each pair is `a+b` with a and b distinct configured dimensions. */
static int check_pairs(fs_config_t *cfg, fs_config_diag_t *diag)
{
    int problems = 0;
    fs_config_origin_t origin = fs_config_origin(cfg, "slices.pairs");
    static const char *const reserved[] = {"code", "alertname", "severity"};
    for (size_t i = 0; i < cfg->dimensions.n; i++) {
        for (size_t r = 0; r < sizeof reserved / sizeof reserved[0]; r++) {
            if (strcmp(cfg->dimensions.items[i], reserved[r]) == 0) {
                fs_config_diag_add(diag, fs_config_origin(cfg, "dimensions"), "dimensions",
                                   "'%s' is reserved (error code slices and alert labels use it)",
                                   reserved[r]);
                problems++;
            }
        }
        if (strchr(cfg->dimensions.items[i], '+')) {
            fs_config_diag_add(diag, fs_config_origin(cfg, "dimensions"), "dimensions",
                               "'%s': a dimension name cannot contain '+'",
                               cfg->dimensions.items[i]);
            problems++;
        }
    }
    if (!origin.file)
        drop_default_pairs(cfg);
    for (size_t i = 0; i < cfg->slices_pairs.n; i++) {
        const char *pair = cfg->slices_pairs.items[i];
        const char *plus = strchr(pair, '+');
        if (!plus || strchr(plus + 1, '+') || plus == pair || plus[1] == '\0') {
            fs_config_diag_add(diag, origin, "slices.pairs", "'%s' is not a pair `a+b`", pair);
            problems++;
            continue;
        }
        int a = dimension_index(cfg, pair, (size_t)(plus - pair));
        int b = dimension_index(cfg, plus + 1, strlen(plus + 1));
        if (a < 0 || b < 0) {
            fs_config_diag_add(diag, origin, "slices.pairs",
                               "'%s' names a dimension not in `dimensions`", pair);
            problems++;
        } else if (a == b) {
            fs_config_diag_add(diag, origin, "slices.pairs", "'%s' pairs a dimension with itself",
                               pair);
            problems++;
        }
    }
    return problems;
}

/*
 * Reports a rule about several keys on the first of them that was set (a
 * default has no line): "key: reason" on its own line, or, on another key's
 * line, "other: key reason".
 */
static void rule_diag(fs_config_t *cfg, fs_config_diag_t *diag, const char *key,
                      const char *other, const char *third, const char *reason)
{
    const char *names[] = {key, other, third};
    for (size_t i = 0; i < 3; i++) {
        if (!names[i])
            continue;
        fs_config_origin_t o = fs_config_origin(cfg, names[i]);
        if (o.file || i == 2 || !names[i + 1]) {
            if (i == 0 || !o.file)
                fs_config_diag_add(diag, fs_config_origin(cfg, key), key, "%s", reason);
            else
                fs_config_diag_add(diag, o, names[i], "%s %s", key, reason);
            return;
        }
    }
}

int fs_config_finish(fs_config_t *cfg, fs_config_diag_t *diag)
{
    int problems = 0;
    const char *topics[] = {cfg->topics_playback, cfg->topics_errors, cfg->topics_alerts,
                            cfg->topics_deadletter};
    const char *names[] = {"topics.playback", "topics.errors", "topics.alerts",
                           "topics.deadletter"};
    /* An alert or dead letter written to an input topic would be read back as
     * an event: refuse configurations that route output into input. */
    for (size_t i = 2; i < 4; i++) {
        for (size_t j = 0; j < 2; j++) {
            if (strcmp(topics[i], topics[j]) == 0) {
                char reason[300];
                snprintf(reason, sizeof reason, "must differ from %s ('%s')", names[j],
                         topics[j]);
                rule_diag(cfg, diag, names[i], names[j], NULL, reason);
                problems++;
            }
        }
    }
    problems += check_pairs(cfg, diag);
    if (cfg->dimensions.n > FS_CONFIG_MAX_DIMENSIONS) {
        fs_config_diag_add(diag, fs_config_origin(cfg, "dimensions"), "dimensions",
                           "at most %d dimensions", FS_CONFIG_MAX_DIMENSIONS);
        problems++;
    }
    if (cfg->localize_share > 1) {
        fs_config_diag_add(diag, fs_config_origin(cfg, "localize.share"), "localize.share",
                           "must be at most 1");
        problems++;
    }
    if (cfg->severity_critical_share > 1) {
        fs_config_diag_add(diag, fs_config_origin(cfg, "severity.critical_share"),
                           "severity.critical_share", "must be at most 1");
        problems++;
    }
    if (cfg->slices_idle_ms <= cfg->window_horizon_ms) {
        rule_diag(cfg, diag, "slices.idle", "window.horizon", NULL, "must exceed window.horizon");
        problems++;
    }
    if (cfg->window_lateness_ms + cfg->window_bucket_ms >= cfg->window_horizon_ms) {
        rule_diag(cfg, diag, "window.horizon", "window.lateness", "window.bucket",
                  "must exceed window.lateness + window.bucket");
        problems++;
    }
    if (strcmp(topics[2], topics[3]) == 0) {
        char reason[300];
        snprintf(reason, sizeof reason, "must differ from topics.alerts ('%s')", topics[2]);
        rule_diag(cfg, diag, names[3], names[2], NULL, reason);
        problems++;
    }
    return problems;
}

fs_config_origin_t fs_config_origin(const fs_config_t *cfg, const char *name)
{
    fs_config_origin_t none = {NULL, 0};
    const fs_key_t *key = fs_config_key_find(name);
    return key ? cfg->priv->origin[key - fs_config_keys] : none;
}

int fs_config_is_secret(const char *prop)
{
    static const char *const markers[] = {"password", "secret", "sasl.oauthbearer.config",
                                          "ssl.key.pem", "ssl_key", "ssl.keystore"};
    for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++)
        if (strstr(prop, markers[i]))
            return 1;
    return 0;
}

void fs_config_dump(const fs_config_t *cfg, FILE *out)
{
    for (size_t i = 0; i < fs_config_n_keys; i++) {
        const fs_key_t *key = &fs_config_keys[i];
        const char *field = (const char *)cfg + key->offset;
        fprintf(out, "%s = ", key->name);
        switch (key->type) {
        case FS_KEY_STRING:
        case FS_KEY_ADDRESS: {
            const char *text = *(char *const *)(const void *)field;
            fputs(fs_config_is_secret(key->name) && text[0] ? "<redacted>" : text, out);
            break;
        }
        case FS_KEY_INT:
            fprintf(out, "%lld", (long long)*(const int64_t *)(const void *)field);
            break;
        case FS_KEY_DURATION: {
            long long ms = (long long)*(const int64_t *)(const void *)field;
            if (ms % 1000 == 0)
                fprintf(out, "%llds", ms / 1000);
            else
                fprintf(out, "%lldms", ms);
            break;
        }
        case FS_KEY_DOUBLE:
            fprintf(out, "%.17g", *(const double *)(const void *)field);
            break;
        case FS_KEY_BOOL:
            fputs(*(const int *)(const void *)field ? "true" : "false", out);
            break;
        case FS_KEY_ENUM:
            fputs(key->choices[*(const int *)(const void *)field], out);
            break;
        case FS_KEY_LIST: {
            const fs_strlist_t *list = (const fs_strlist_t *)(const void *)field;
            for (size_t j = 0; j < list->n; j++)
                fprintf(out, "%s%s", j ? "," : "", list->items[j]);
            break;
        }
        }
        fputc('\n', out);
    }
    for (size_t i = 0; i < cfg->n_kafka; i++)
        fprintf(out, "kafka.%s = %s\n", cfg->kafka[i].name,
                fs_config_is_secret(cfg->kafka[i].name) ? "<redacted>" : cfg->kafka[i].value);
}

static int set_kafka_default(fs_config_t *cfg, const char *prop, const char *value,
                             fs_config_origin_t origin, fs_config_diag_t *diag)
{
    char name[256];
    snprintf(name, sizeof name, "%s%s", KAFKA_PREFIX, prop);
    return set_kafka(cfg, name, value, origin, SET_DEFAULT, diag);
}

int fs_config_load(fs_config_t *cfg, const char *path, const char *const *overrides,
                   size_t n_overrides, fs_config_diag_t *diag)
{
    int problems = fs_config_load_file(cfg, path, diag) != 0;
    for (size_t i = 0; i < n_overrides; i++)
        problems += fs_config_override(cfg, overrides[i], (int)i + 1, diag);
    return problems + fs_config_finish(cfg, diag);
}

int fs_config_set_kafka(fs_config_t *cfg, const char *prop, const char *value)
{
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        if (strcmp(cfg->kafka[i].name, prop) == 0) {
            char *copy = strdup(value);
            if (!copy)
                return -1;
            free(cfg->kafka[i].value);
            cfg->kafka[i].value = copy;
            return 0;
        }
    }
    fs_config_diag_t diag = {0};
    int problems = set_kafka_default(cfg, prop, value, (fs_config_origin_t){NULL, 0}, &diag);
    fs_config_diag_clear(&diag);
    return problems ? -1 : 0;
}
