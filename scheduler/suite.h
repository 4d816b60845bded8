/* Nightly suites (`chaos run DIR/`: every experiment file of a directory, one JUnit
 * file for all) and the report outputs around a single run (`--html`, `chaos report`). */
#pragma once
#include <stdbool.h>

#include "scheduler/experiment.h"
#include "scheduler/run.h"

struct suite_opts {
	const char *inventory;  /* --inventory for every experiment, or NULL */
	/* --journal / --html: a directory (existing, or written with a trailing '/') gets one
	 * file per experiment (NAME.json, NAME.html); any other path gets one suite file. */
	const char *journal;
	const char *html;
	const char *junit;      /* one JUnit file, a testcase per experiment */
	bool quiet;
	/* consecutive experiments whose targets choose disjoint hosts run at once, each in
	 * its own process, quietly */
	bool parallel;
};

bool path_is_directory(const char *path);

/* Runs every *.cfg of `dir` in name order (matrix files as `chaos matrix` does). Files
 * that are no experiment (an inventory to @include) are left out. Returns the worst
 * exit code of the runs (3 > 2 > 1 > 0). */
int suite_run(const char *dir, const struct suite_opts *o);

/* run_experiment, then the HTML report from its journal when html_path is set (the
 * journal goes to a temporary file when ro->journal_path is NULL). */
int run_with_reports(const struct experiment *e, const struct run_opts *ro, const char *html_path);

/* `chaos report`: reads any journal file and writes the HTML and/or JUnit views of it.
 * Exit code 0, 2 (cannot write) or 3 (cannot read the journal). */
int journal_render(const char *journal_path, const char *html_path, const char *junit_path);

/* JUnit XML for a suite journal ({"suite": {"results": [...]}, "runs": [...]}). */
int suite_junit_write_file(struct json_object *suite_journal, const char *path);
