#!/usr/bin/env python3
"""Reads a chaos run's JSON journal or JUnit file and prints facts the e2e tests compare.

report.py verdict JOURNAL          -> "<verdict> <exit_code>"
report.py faults JOURNAL           -> one line per fault event: "applied|reverted|apply_failed HOST KIND [ok STATE]"
report.py probes JOURNAL           -> one line per probe event: "PHASE PROBE ok|failed"
report.py stat JOURNAL HOST KEY    -> sum of stats.KEY over the faults reverted on HOST
report.py stat-text JOURNAL HOST KEY -> stats.KEY (a string such as "backend") of the faults reverted on HOST
report.py junit JUNIT              -> "tests=N failures=N cases=N failure_elements=N"
report.py recovery JOURNAL         -> one line per probe: "PROBE|EXPECT|deviated=yes|no|recovered=yes|no|detect=MS|recover=MS"
                                      (MS "null" when the journal has none)
report.py steps JOURNAL            -> one line per step: "KIND TARGET HOST,HOST,... skew=MS|null"
report.py samples JOURNAL PROBE    -> one line per sample of PROBE during the run: "T_MS ok|failed REASON"
report.py latencies JOURNAL PROBE  -> one line per sample of PROBE during the run: "T_MS LATENCY_MS"
report.py key JOURNAL KEY          -> the top-level KEY as JSON
report.py matrix JOURNAL           -> one line per probe: "PROBE|CELL|CELL|..." (CELL: ok, DEVIATED or NOT_RECOVERED)
report.py matrix-domains JOURNAL   -> the domains, space separated
"""
import json
import sys
import xml.etree.ElementTree as ET


def events(path):
    with open(path) as f:
        return json.load(f)["events"]


def load(path):
    with open(path) as f:
        return json.load(f)


def yesno(value):
    return "yes" if value else "no"


def ms(value):
    return "null" if value is None else str(value)


def main(argv):
    cmd, path = argv[1], argv[2]
    if cmd == "verdict":
        with open(path) as f:
            j = json.load(f)
        print(j.get("verdict"), j.get("exit_code"))
    elif cmd == "faults":
        for ev in events(path):
            t = ev.get("type")
            if t == "fault_applied":
                print("applied", ev.get("host"), ev.get("kind"))
            elif t == "fault_reverted":
                print("reverted", ev.get("host"), ev.get("kind"),
                      "ok" if ev.get("ok") else "notok", ev.get("state"))
            elif t == "fault_apply_failed":
                print("apply_failed", ev.get("host"), ev.get("kind"))
    elif cmd == "probes":
        for ev in events(path):
            if ev.get("type") == "probe":
                print(ev.get("phase"), ev.get("probe"), "ok" if ev.get("ok") else "failed")
    elif cmd == "stat":
        host, key = argv[3], argv[4]
        total = 0
        for ev in events(path):
            if ev.get("type") == "fault_reverted" and ev.get("host") == host:
                total += int((ev.get("stats") or {}).get(key, 0))
        print(total)
    elif cmd == "stat-text":
        host, key = argv[3], argv[4]
        for ev in events(path):
            if ev.get("type") == "fault_reverted" and ev.get("host") == host:
                print((ev.get("stats") or {}).get(key, ""))
    elif cmd == "latencies":
        for sm in load(path).get("samples") or []:
            if sm.get("probe") == argv[3] and sm.get("phase", "sample") == "sample":
                print(sm.get("t_ms"), sm.get("latency_ms"))
    elif cmd == "junit":
        root = ET.parse(path).getroot()
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        tests = sum(int(s.get("tests", 0)) for s in suites)
        failures = sum(int(s.get("failures", 0)) for s in suites)
        cases = sum(len(s.findall("testcase")) for s in suites)
        failure_elements = sum(len(s.findall("testcase/failure")) for s in suites)
        print(f"tests={tests} failures={failures} cases={cases} failure_elements={failure_elements}")
    elif cmd == "recovery":
        for r in load(path).get("recovery") or []:
            print(f"{r.get('probe')}|{r.get('expect')}|deviated={yesno(r.get('deviated'))}"
                  f"|recovered={yesno(r.get('recovered'))}|detect={ms(r.get('detected_after_ms'))}"
                  f"|recover={ms(r.get('recovered_after_ms'))}")
    elif cmd == "steps":
        for st in load(path).get("steps") or []:
            print(st.get("kind"), st.get("target"), ",".join(st.get("hosts") or []), f"skew={ms(st.get('skew_ms'))}")
    elif cmd == "samples":
        for sm in load(path).get("samples") or []:
            if sm.get("probe") == argv[3] and sm.get("phase", "sample") == "sample":
                print(sm.get("t_ms"), "ok" if sm.get("ok") else "failed", sm.get("reason"))
    elif cmd == "key":
        print(json.dumps(load(path).get(argv[3])))
    elif cmd == "matrix":
        m = load(path)["matrix"]
        for probe, row in zip(m["probes"], m["cells"]):
            cells = ["ok" if not c.get("deviated") else ("DEVIATED" if c.get("recovered") else "NOT_RECOVERED")
                     for c in row]
            print("|".join([probe] + cells))
    elif cmd == "matrix-domains":
        print(" ".join(load(path)["matrix"]["domains"]))
    else:
        sys.exit(f"report.py: unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
