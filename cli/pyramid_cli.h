/*
 * pyramid_cli.h - what `tess pyramid` (pyramid_cmds.c) shares with
 * `tess raster` (raster_cmds.c): list parsing, numbers as JSON, opening.
 */
#ifndef TESS_PYRAMID_CLI_H
#define TESS_PYRAMID_CLI_H

#include "cli.h"
#include "tessera/pyramid.h"

/* "A,B,..." of at most `max` finite numbers into out; -1 on bad syntax. */
int pcli_parse_doubles(const char *s, double *out, int max, int *n);

/* "N,M,..." of at most `max` unsigned integers into out; -1 on bad syntax. */
int pcli_parse_counts(const char *s, uint64_t *out, int max, int *n);

/* The shortest "%.*g" spelling of v that reads back as v. */
void pcli_format_double(char *buf, size_t cap, double v);

/* v as a JSON number (NaN and infinities as Zarr's strings "NaN", ...). */
void pcli_json_double(FILE *out, double v);

/* Open the pyramid at PATH for command `verb`, reporting failures (exit
 * status returned; 0 on success). */
int pcli_open(struct cli_ctx *ctx, const char *verb, const char *path, tess_pyramid **out);

/* What an update did, one line: "PATH: 12 dirty chunks, 20 coarse chunks
 * recomputed in 0.31 s". */
void pcli_update_line(FILE *out, const char *path, const tess_pyramid_update_stats *s);

/* The same as a JSON object (no newline). */
void pcli_update_json(FILE *out, const tess_pyramid_update_stats *s);

#endif
