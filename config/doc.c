/*
 * doc.c: writes CONFIGURATION.md and the reference configuration from the
 * key table, so the documentation cannot drift from what the loader accepts.
 */
#include "config/doc.h"

#include <string.h>

#include "config/keys.h"

/* A duration in the largest unit that divides it exactly: 2592000000 -> 30d. */
static void write_duration(FILE *out, int64_t ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ms != 0 && ms % units[i].ms == 0) {
            fprintf(out, "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return;
        }
    }
    fprintf(out, "%lldms", (long long)ms);
}

static void write_range(FILE *out, const fs_key_t *key)
{
    if (key->type == FS_KEY_ENUM) {
        for (size_t i = 0; key->choices[i]; i++)
            fprintf(out, "%s`%s`", i ? ", " : "", key->choices[i]);
    } else if (key->min <= key->max && key->type == FS_KEY_DURATION) {
        write_duration(out, key->min);
        fputs(" to ", out);
        write_duration(out, key->max);
    } else if (key->min <= key->max) {
        fprintf(out, "%lld to %lld", (long long)key->min, (long long)key->max);
    }
}

void fs_config_write_markdown(FILE *out)
{
    fputs("# foreshock configuration\n\n"
          "<!-- Generated from config/keys.c by `cmake --build build --target config-docs`;"
          " do not edit. -->\n\n"
          "A configuration file holds one `key = value` per line. Lines whose first non-blank\n"
          "character is `#` are comments; there are no trailing comments, so a value may\n"
          "contain `#`. Blanks around the key and the value are ignored. Every key may also\n"
          "be given on the command line as `-X key=value`, which overrides the file.\n\n"
          "Unknown keys, a key set twice, values of the wrong type and values out of range\n"
          "stop startup with `FILE:LINE: key: reason` (`-X:N` for the N-th override);\n"
          "nothing is silently clamped. `foreshock -c FILE --check-config` lists every\n"
          "problem and `--dump-config` prints the effective configuration.\n\n"
          "Durations are whole numbers with a unit: `ms`, `s`, `m`, `h` or `d` (`250ms`,\n"
          "`5s`). Lists are comma-separated names.\n\n"
          "| key | type | default | range | description |\n"
          "|---|---|---|---|---|\n",
          out);
    for (size_t i = 0; i < fs_config_n_keys; i++) {
        const fs_key_t *key = &fs_config_keys[i];
        fprintf(out, "| `%s` | %s | `%s` | ", key->name, fs_key_type_name(key->type),
                key->default_value);
        write_range(out, key);
        fprintf(out, " | %s |\n", key->description);
    }
    fputs("\n## Kafka properties\n\n"
          "Every key `kafka.<property>` is handed to librdkafka unchanged as `<property>`,\n"
          "for the consumer and the producer alike (see librdkafka's CONFIGURATION.md).\n"
          "A property librdkafka rejects stops startup with librdkafka's own message.\n"
          "TLS and SASL are configured this way, e.g. `kafka.security.protocol = SASL_SSL`.\n"
          "Values of properties that hold secrets (passwords, keys) are never printed.\n\n"
          "foreshock sets these unless the configuration does:\n\n"
          "| property | default | why |\n|---|---|---|\n",
          out);
    for (size_t i = 0; i < fs_kafka_n_defaults; i++)
        fprintf(out, "| `kafka.%s` | `%s` | %s |\n", fs_kafka_defaults[i].name,
                fs_kafka_defaults[i].value, fs_kafka_defaults[i].why);
}

/* Writes text as `# ` comment lines of at most 78 columns. */
static void write_comment(FILE *out, const char *text)
{
    const char *p = text;
    while (*p) {
        size_t take = strlen(p);
        if (take > 76) {
            take = 76;
            while (take > 0 && p[take] != ' ')
                take--;
            if (take == 0)
                take = 76;
        }
        fprintf(out, "# %.*s\n", (int)take, p);
        p += take;
        while (*p == ' ')
            p++;
    }
}

void fs_config_write_reference(FILE *out)
{
    fputs("# foreshock reference configuration.\n"
          "#\n"
          "# Generated from config/keys.c by `cmake --build build --target config-docs`;\n"
          "# do not edit. Every key is listed, commented out, at its default: copy this\n"
          "# file, uncomment and change what you need. See config/CONFIGURATION.md.\n",
          out);
    for (size_t i = 0; i < fs_config_n_keys; i++) {
        const fs_key_t *key = &fs_config_keys[i];
        fputc('\n', out);
        write_comment(out, key->description);
        fprintf(out, "# (%s", fs_key_type_name(key->type));
        if (key->type == FS_KEY_ENUM || key->min <= key->max) {
            fputs(": ", out);
            write_range(out, key);
        }
        fputs(")\n", out);
        fprintf(out, "# %s = %s\n", key->name, key->default_value);
    }
    fputs("\n# librdkafka properties, passed through unchanged as kafka.<property>.\n", out);
    for (size_t i = 0; i < fs_kafka_n_defaults; i++) {
        write_comment(out, fs_kafka_defaults[i].why);
        fprintf(out, "# kafka.%s = %s\n", fs_kafka_defaults[i].name, fs_kafka_defaults[i].value);
    }
    fputs("# TLS and SASL, for example:\n"
          "# kafka.security.protocol = SASL_SSL\n"
          "# kafka.sasl.mechanisms = SCRAM-SHA-512\n"
          "# kafka.sasl.username = foreshock\n"
          "# kafka.sasl.password = (secret; never printed by --dump-config)\n",
          out);
}
