/* The HTML report: one self-contained page (inline CSS, script and SVG, no network
 * access) drawn from a run, matrix or suite journal. See docs/reports.md. */
#pragma once
#include <json-c/json.h>
#include <stdio.h>

/* Writes the report for `journal` (borrowed) to `path`. 0 or -errno. */
int html_report_write(struct json_object *journal, const char *path);
int html_report_write_stream(struct json_object *journal, FILE *out);
/* Writes JSON text so it can sit inside a <script> element: '<', '>' and '&' become
 * \u escapes (they only occur inside JSON strings), so nothing in it can close the tag. */
int html_embed_json(FILE *out, const char *json_text);
