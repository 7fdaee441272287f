/*
 * json_write.h: a small JSON writer into a caller's buffer, for the messages
 * foreshock produces (alerts). It tracks commas itself; strings are escaped
 * per RFC 8259. If the buffer is too small the writer remembers it and
 * fs_jw_finish reports failure, so callers check once at the end.
 */
#ifndef FS_DETECTOR_JSON_WRITE_H
#define FS_DETECTOR_JSON_WRITE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fs_jw {
    char *buf;
    size_t size, len;
    int overflow;
    int need_comma;
} fs_jw_t;

void fs_jw_init(fs_jw_t *jw, char *buf, size_t size);
void fs_jw_open(fs_jw_t *jw, char bracket);  /* '{' or '[' */
void fs_jw_close(fs_jw_t *jw, char bracket); /* '}' or ']' */
void fs_jw_key(fs_jw_t *jw, const char *key);
void fs_jw_str(fs_jw_t *jw, const char *s, size_t len);
void fs_jw_cstr(fs_jw_t *jw, const char *s); /* NUL-terminated; NULL writes null */
void fs_jw_int(fs_jw_t *jw, int64_t v);
void fs_jw_num(fs_jw_t *jw, double v); /* non-finite writes null */
void fs_jw_null(fs_jw_t *jw);
/* Returns the length written (NUL-terminated), or -1 if the buffer was too small. */
long fs_jw_finish(fs_jw_t *jw);

#endif
