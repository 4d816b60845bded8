/* Dependency impact matrix (`chaos matrix`): the same outage on each failure domain in
 * turn, with recovery in between, and which probes deviated for which outage. */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

#include "scheduler/experiment.h"

struct matrix_opts {
	const char *journal_path;
	const char *junit_path;
	const char *html_path;
	bool quiet;
};

/* Runs every domain of a matrix file. Exit code: 0 every run completed (held or
 * deviated: the matrix is information), 2 a run aborted or failed. */
int matrix_run(const struct experiment *e, const struct matrix_opts *o);

/* From the per-domain run journals: {"domains": [...], "probes": [...], "cells": [[...]]}. */
struct json_object *matrix_cells(const struct experiment *e, struct json_object *runs);
/* The table: rows = probes, columns = domains. */
void matrix_print_table(FILE *out, struct json_object *matrix);
/* "ok", "DEVIATED 1.2s->3.4s", "NOT RECOVERED", "ABORTED" */
void matrix_cell_text(struct json_object *cell, char *buf, size_t len);
int matrix_junit_write_file(struct json_object *journal, const char *path);
/* `chaos plan` for a matrix file. */
void matrix_print_plan(const struct experiment *e);
/* `chaos plan` pieces for game-day experiments: probes (with sampling and abort
 * conditions) and partition steps (both sides and the peers each side drops). */
void plan_print_probes(const struct experiment *e);
void plan_print_partition(const struct experiment *e, const struct step *s);
