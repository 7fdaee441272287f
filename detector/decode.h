/*
 * decode.h: turns one Kafka message value into an fs_event_t, or says in a
 * few words why it is an invalid event (CONTRACT.md section 1).
 *
 * The consumer owns one decoder per thread and calls fs_decoder_decode for
 * every message; a rejected message goes to the dead-letter topic with the
 * returned reason as its `foreshock-error` header. The whole message must be
 * valid UTF-8 and valid JSON (RFC 8259) whose top level is an object; fields
 * not named in the contract or configured as dimensions are ignored whatever
 * their type. Decoding never allocates: the only working memory, scratch for
 * unescaped strings, is allocated by fs_decoder_new, sized for the largest
 * message allowed.
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
 * event of the given kind into *ev. kind selects the required fields:
 * `outcome` for FS_EVENT_PLAYBACK, `code` for FS_EVENT_ERROR; the other one
 * is then an ignored field.
 *
 * Returns 0 on success. The fs_str_t fields of *ev point into buf or, when
 * the JSON string had escapes, into the decoder's scratch memory: they are
 * valid while buf is and until the next fs_decoder_decode or fs_decoder_free
 * on d. Unescaped values may contain any Unicode character, including
 * control characters and U+0000 (from \u0000).
 *
 * Returns -1 for an invalid event and sets *reason to a short English phrase;
 * *ev is then unspecified. The checks, in the order they apply (the first
 * failing one gives the reason):
 *
 *   "message larger than 64 KiB"      len > FS_DECODE_MAX_BYTES
 *   "not valid UTF-8"                 ill-formed UTF-8 bytes (overlong, surrogate, ...)
 *   "not valid JSON"                  a control character other than tab, CR, LF; then,
 *                                     after the next two checks, any RFC 8259 violation,
 *                                     including data after the top-level value
 *   "empty message"                   nothing but whitespace
 *   "JSON nested too deeply"          more than FS_DECODE_MAX_DEPTH levels
 *   "not a JSON object"               valid JSON, but not an object
 *   "duplicate field"                 a top-level key the decoder uses appears twice
 *   "missing ts", "ts has the wrong type" (not an integer or a string: null,
 *   bool, object, array, or a number with a fraction or exponent), "ts cannot
 *   be parsed" (not RFC 3339, see timestamp.h), "ts out of range" (outside
 *   2000-01-01T00:00:00.000Z .. 2200-12-31T23:59:59.999Z)
 *   "missing outcome", "outcome has the wrong type", "unknown outcome" (not
 *   exactly "ok" or "failed"); or, for error events, "missing code", "code has
 *   the wrong type", "empty code"
 *   "user_id has the wrong type"      not a string or null
 *   "<dimension> has the wrong type"  not a string or null, e.g. "country has the wrong type"
 *
 * A field the decoder returns whose \u escapes leave an unpaired surrogate
 * (not representable in UTF-8) gives "not valid UTF-8" when that field is
 * reached in the order above; ignored fields are not unescaped.
 *
 * Reasons are string constants, except "<dimension> has the wrong type",
 * which is owned by the decoder and valid until fs_decoder_free. A null
 * required field has the wrong type; a null optional field is absent. A
 * missing, null or empty dimension is "unknown"; a missing, null or empty
 * user_id has len 0. Keys are compared after unescaping ("t\u0073" is "ts").
 * Keys the decoder does not use are never checked for duplicates.
 *
 * Never allocates. The cost is linear in len: one pass over the message, and
 * for an invalid one at most two more to find the reason.
 */
int fs_decoder_decode(fs_decoder_t *d, fs_event_kind_t kind, const char *buf, size_t len,
                      fs_event_t *ev, const char **reason);

#endif
