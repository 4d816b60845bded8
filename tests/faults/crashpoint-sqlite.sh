#!/usr/bin/env bash
# crash-point on sqlite3 (rollback journal, synchronous=FULL) through a real agent in
# namespace A: the sqlite3 shell commits a transaction of two rows; the database's commit
# point is the journal's deletion. Killed at its first fdatasync under the database's
# directory (the journal's, before the commit point) the database still holds only the old
# row after recovery (the hot journal is rolled back) and passes integrity_check; killed at
# the journal's unlink (which still runs: a sys_enter crash point never stops the syscall)
# the transaction is committed: three rows, no journal left.
. "$CK_TESTS_LIB"
. "$CK_SOURCE_DIR/tests/faults/crashpoint-lib.sh"
cp_require
ck_require_tools sqlite3
ck_init ckt-cp-sqlite
cp_setup
DIR=$CK_TMP/db
mkdir -p "$DIR"

# crash_sqlite SYSCALL: a fresh database with one row; a sqlite3 shell in $A reading SQL
# from a fifo; the crash point set on it; then the transaction; sets RC to its wait status.
crash_sqlite() {
	rm -f "$DIR"/t.db*
	sqlite3 "$DIR/t.db" "CREATE TABLE t(x); INSERT INTO t VALUES(1);"
	rm -f "$CK_TMP/sql.fifo"
	mkfifo "$CK_TMP/sql.fifo"
	exec 3<>"$CK_TMP/sql.fifo"
	ip netns exec "$A" sqlite3 "$DIR/t.db" <"$CK_TMP/sql.fifo" >"$CK_TMP/sqlite.$1.out" 2>&1 &
	local pid=$!
	ck_on_exit "kill -9 $pid"
	echo "SELECT 'ready';" >&3
	ck_wait_for 5 grep -q '^ready$' "$CK_TMP/sqlite.$1.out" || ck_die "sqlite3 did not start"
	sc_apply crash-point '{"processes":{"pid":'"$pid"'},"syscall":"'"$1"'","path_prefix":"'"$DIR"'"}' ||
		ck_die "crash-point refused: $SC_RESP"
	echo "BEGIN; INSERT INTO t VALUES(2); INSERT INTO t VALUES(3); COMMIT; SELECT 'committed';" >&3
	RC=0
	wait "$pid" || RC=$?
	exec 3>&-
	FIRED=$(sc_stat fired)
	sc_revert
}

crash_sqlite fdatasync
ck_expect_eq "journal sync: sqlite3 died by SIGKILL" 137 "$RC"
ck_expect_eq "journal sync: fired" 1 "$FIRED"
ck_check "journal sync: it never reported the commit" bash -c "! grep -q committed '$CK_TMP/sqlite.fdatasync.out'"
ck_check "journal sync: a hot journal was left" test -e "$DIR/t.db-journal"
ck_expect_eq "journal sync: after recovery the database is intact and holds the old row only" \
	"$(printf 'ok\n1')" "$(sqlite3 "$DIR/t.db" "PRAGMA integrity_check; SELECT count(*) FROM t;")"

crash_sqlite unlink
ck_expect_eq "journal unlink: sqlite3 died by SIGKILL" 137 "$RC"
ck_expect_eq "journal unlink: fired" 1 "$FIRED"
ck_check "journal unlink: it never reported the commit" bash -c "! grep -q committed '$CK_TMP/sqlite.unlink.out'"
ck_check "journal unlink: the journal is gone (the unlink ran)" test ! -e "$DIR/t.db-journal"
ck_expect_eq "journal unlink: the transaction is committed" \
	"$(printf 'ok\n3')" "$(sqlite3 "$DIR/t.db" "PRAGMA integrity_check; SELECT count(*) FROM t;")"
ck_check "no crashpoint program left" ck_wait_for 3 cp_no_bpf_left
ck_check "no journal entry or state file left" cp_no_state_left
ck_finish
