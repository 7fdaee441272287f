/*
 * decode.h: turns one Kafka message value into an fs_event_t, or says in a
 * few words why it is an invalid event (CONTRACT.md section 1).
 *
 * The consumer owns one decoder per thread and calls fs_decoder_decode for
 * every message; a rejected message goes to the dead-letter topic with the
 * returned reason as its `foreshock-error` header. The whole message must be
 * valid UTF-8 and valid JSON (RFC 8259) whose top level is an object; fields
 * not named in the contract or configured as dimensions are ignored whatever
 * their type. Decoding never allocates: all working memory (token array,
 * scratch for unescaped strings) is allocated by fs_decoder_new, sized for
 * the largest message allowed.
 *
 * Thread safety: a decoder is not thread safe; use one per thread. Distinct
 * decoders share nothing.
 */
#ifndef FS_DETECTOR_DECODE_H
#define FS_DETECTOR_DECODE_H

#include <stddef.h>

#include "detector/event.h"

/* Largest message value accepted, in bytes (64 KiB). */
#define FS_DECODE_MAX_BYTES 65536

/* Deepest nesting of objects and arrays accepted (the top-level object is 1). */
#define FS_DECODE_MAX_DEPTH 64

typedef struct fs_decoder fs_decoder_t;

/*
 * A new decoder for the dimension names dims[0..n_dims) (borrowed; copied),
 * in the order their values will appear in fs_event_t.dims. n_dims must be
 * at most FS_MAX_DIMS; names must be non-empty and distinct. A name may equal
 * another field's ("code", say): that field then also fills the dimension.
 * Returns NULL and writes a NUL-terminated reason into err (err_size bytes;
 * err may be NULL when err_size is 0) on bad arguments or lack of memory.
 * Free the result with fs_decoder_free.
 */
fs_decoder_t *fs_decoder_new(const char *const *dims, size_t n_dims, char *err, size_t err_size);

/* Frees a decoder and its buffers. Accepts NULL. */
void fs_decoder_free(fs_decoder_t *d);

/*
 * Decodes the len bytes at buf (borrowed; need not be NUL-terminated) as an
 * event of the given kind into *ev.
 *
 * Returns 0 on success. The fs_str_t fields of *ev point into buf or into the
 * decoder's scratch memory: they are valid while buf is and until the next
 * fs_decoder_decode or fs_decoder_free on d.
 *
 * Returns -1 for an invalid event and sets *reason to a short English phrase
 * (e.g. "not valid JSON", "missing ts", "unknown outcome"). Reasons are string
 * constants, except "<dimension> has the wrong type", which is owned by the
 * decoder and valid until fs_decoder_free. *ev is then unspecified.
 *
 * Never allocates and never fails for any other cause; the cost is linear in
 * len.
 */
int fs_decoder_decode(fs_decoder_t *d, fs_event_kind_t kind, const char *buf, size_t len,
                      fs_event_t *ev, const char **reason);

#endif
