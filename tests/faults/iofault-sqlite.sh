#!/usr/bin/env bash
# sqlite3 on a database under an io-fault path sees the injected errors: EIO on fsync
# makes a commit fail with "disk I/O error", ENOSPC on write with "database or disk is
# full", EIO on read fails a query; the database is intact (integrity_check ok, no
# committed row lost, no failed one kept) and works again after each DELETE.
. "$CK_TESTS_LIB"
ck_init ckt-io-sql
. "$CK_SOURCE_DIR/tests/faults/iofault-lib.sh"
io_require
ck_require_tools sqlite3
io_setup
io_agent "$CK_TMP/agent.log"
DB="$IO_DATA/app.db"

sql() { sqlite3 -bail "$DB" "$@" 2>&1; }
rows() { sql "select count(*) from t"; }
intact() { [ "$(sql 'pragma integrity_check')" = ok ]; }
# fault WHAT OPERATION ERRNO FILES: an io-fault on $IO_DATA, applied.
fault() {
	io_apply '{"path": "'"$IO_DATA"'", "operations": ["'"$2"'"], "errno": "'"$3"'", "files": "'"$4"'"}'
	ck_expect_eq "$1: applied" 201 "$IO_CODE"
}
# sql_fails WHAT MESSAGE SQL: the statement fails and sqlite3 says MESSAGE.
sql_fails() {
	local out rc=0
	out=$(sql "$3") || rc=$?
	ck_check "$1 (got: $out)" bash -c '[ "$1" -ne 0 ] && grep -q "$2" <<<"$3"' _ "$rc" "$2" "$out"
}
sql "create table t(id integer primary key, v text); insert into t(v) values ('a'), ('b'), ('c');" >/dev/null
ck_expect_eq "setup: 3 rows" 3 "$(rows)"

# --- EIO on fsync: the commit fails -------------------------------------------------------
fault "fsync EIO" fsync EIO 'app.db*'
sql_fails "fsync EIO: the commit fails with 'disk I/O error'" 'disk I/O error' "insert into t(v) values ('lost');"
ck_check "fsync EIO: the fault counted fsyncs" bash -c "[ \"\$1\" -ge 1 ]" _ "$(io_stat fsync_faulted)"
io_revert
ck_check "fsync EIO: no mount after DELETE" io_unmounted
ck_check "fsync EIO: integrity_check ok after DELETE" intact
ck_expect_eq "fsync EIO: the failed insert was rolled back" 3 "$(rows)"
sql "insert into t(v) values ('d');" >/dev/null
ck_expect_eq "fsync EIO: commits work again" 4 "$(rows)"

# --- ENOSPC on write: "database or disk is full" -----------------------------------------------
fault "write ENOSPC" write ENOSPC 'app.db*'
sql_fails "write ENOSPC: the insert fails with 'database or disk is full'" 'database or disk is full' "insert into t(v) values (randomblob(100000));"
ck_expect_eq "write ENOSPC: the database reads fine during the fault (reads are not faulted)" 4 "$(rows)"
io_revert
ck_check "write ENOSPC: integrity_check ok after DELETE" intact
ck_expect_eq "write ENOSPC: nothing of the failed insert is kept" 4 "$(rows)"

# --- EIO on read: a query fails ------------------------------------------------------------------
fault "read EIO" read EIO 'app.db'
sql_fails "read EIO: the query fails with 'disk I/O error'" 'disk I/O error' "select count(*) from t;"
ck_check "read EIO: reads reached the daemon and were faulted" bash -c "[ \"\$1\" -ge 1 ]" _ "$(io_stat read_faulted)"
io_revert
ck_check "read EIO: no mount after DELETE" io_unmounted
ck_check "read EIO: integrity_check ok after DELETE" intact
ck_expect_eq "read EIO: all 4 rows there" 4 "$(rows)"
ck_finish
