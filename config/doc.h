/*
 * doc.h: documents generated from the key table: config/CONFIGURATION.md
 * and the reference config/foreshock.conf. Both are checked in and a test
 * fails when they differ from what the table generates.
 */
#ifndef FS_CONFIG_DOC_H
#define FS_CONFIG_DOC_H

#include <stdio.h>

/* Writes CONFIGURATION.md: one table row per key, then the kafka passthrough. */
void fs_config_write_markdown(FILE *out);

/* Writes the reference configuration: every key, commented, at its default. */
void fs_config_write_reference(FILE *out);

#endif
