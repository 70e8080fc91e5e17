#!/usr/bin/python3
"""bench/roll_observer.py - the outside observer of bench/sections/40-rollover.sh.

  watch --out LOG --name OWNER --main-cf FILE --state-file FILE
        --status 'CMD' [--max SECS] SERVER...
      Every 0.1 s asks each SERVER (UDP, no recursion) for the TLSA RRset at
      OWNER and appends a line to LOG whenever a server's answer changes:
        TIME dns SERVER REC|REC...      ("-" when empty, "ERR" on no answer)
      and whenever main.cf's mtime changes:
        TIME maincf MTIME
      A second thread looks at the state file every 50 ms and, when it
      changed, runs CMD (`pftls-roll -c CF status --json`) and appends
        TIME state JSON
      TIME is the wall clock (epoch seconds) when the answer was received.
      Stops after SECS (default 600) or on SIGTERM.

  analyze --log LOG --t0 T0 --old REC,REC --new REC,REC --factor F
          --safety S --min-delay D --retire-delay R [--deploy MTIME]
      One run's numbers as one JSON line (times in epoch seconds, lags in
      ms or s as named), from the observer's log and the last state the log
      recorded with t_reload: state times in ms (times_ms) when the build
      records them, else times x 1000.

  report --title T FILE...
      Medians per setup and build of the analyze lines in FILE (Markdown).

Records are "USAGE SELECTOR MTYPE HEX" with uppercase hex, as dns_common.sh's
spki_hex prints it.  Only the standard library and dnspython.
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import threading
import time


def rec_norm(r):
    p = r.split()
    return " ".join(p[:3] + ["".join(p[3:]).upper()])


def watch(a):
    import dns.flags
    import dns.message
    import dns.query
    import dns.rdatatype

    lock = threading.Lock()
    out = open(a.out, "a", buffering=1)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    end = time.time() + a.max

    def emit(t, what):
        with lock:
            out.write("%.6f %s\n" % (t, what))

    def state_thread():
        last = None
        while not stop.is_set() and time.time() < end:
            try:
                st = os.stat(a.state_file)
                key = (st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError:
                key = None
            if key is not None and key != last:
                last = key
                t = time.time()
                p = subprocess.run(a.status, shell=True, capture_output=True, text=True)
                line = p.stdout.strip().replace("\n", " ")
                if line.startswith("{"):
                    emit(t, "state " + line)
            stop.wait(0.05)

    th = threading.Thread(target=state_thread, daemon=True)
    th.start()
    last = {}
    last_mtime = None
    nxt = time.time()
    while not stop.is_set() and time.time() < end:
        for s in a.servers:
            host, _, port = s.partition("#")
            q = dns.message.make_query(a.name, dns.rdatatype.TLSA)
            q.flags &= ~dns.flags.RD
            try:
                r = dns.query.udp(q, host, timeout=0.3, port=int(port or 53))
                recs = sorted(
                    "%d %d %d %s" % (rd.usage, rd.selector, rd.mtype, rd.cert.hex().upper())
                    for rrset in r.answer
                    if rrset.rdtype == dns.rdatatype.TLSA
                    for rd in rrset
                )
                val = "|".join(recs) or "-"
            except Exception:
                val = "ERR"
            t = time.time()
            if last.get(s) != val:
                last[s] = val
                emit(t, "dns %s %s" % (s, val))
        try:
            m = os.stat(a.main_cf).st_mtime_ns
        except OSError:
            m = None
        if m != last_mtime:
            last_mtime = m
            emit(time.time(), "maincf %s" % ("%.9f" % (m / 1e9) if m else "-"))
        nxt += 0.1
        d = nxt - time.time()
        if d > 0:
            stop.wait(d)
        else:
            nxt = time.time()
    stop.set()
    th.join(2)


def analyze(a):
    old = {rec_norm(r) for r in a.old.split(",") if r}
    new = {rec_norm(r) for r in a.new.split(",") if r}
    t0 = a.t0
    series = {}  # server -> [(t, set or None)]
    mtimes = []
    states = []
    for line in open(a.log):
        parts = line.rstrip("\n").split(" ", 2)
        if len(parts) < 3:
            continue
        t, kind, rest = float(parts[0]), parts[1], parts[2]
        if kind == "dns":
            srv, _, val = rest.partition(" ")
            recs = None if val == "ERR" else (set() if val == "-" else set(val.split("|")))
            series.setdefault(srv, []).append((t, recs))
        elif kind == "maincf" and rest != "-":
            mtimes.append(float(rest))
        elif kind == "state":
            try:
                states.append(json.loads(rest))
            except ValueError:
                pass
    first_new, old_gone = {}, {}
    for srv, ser in series.items():
        for t, recs in ser:
            if t >= t0 and recs is not None and new <= recs:
                first_new[srv] = t
                break
        # old gone: the last change at or after t0 to a set with no old
        # record, provided no later answer serves one again.
        gone = None
        for t, recs in ser:
            if recs is None:
                continue
            if recs & old:
                gone = None
            elif gone is None and t >= t0:
                gone = t
        if gone is not None:
            old_gone[srv] = gone
    res = {"setup": a.setup, "build": a.build, "run": a.run, "t0": t0}
    servers = sorted(series)
    res["servers"] = len(servers)
    complete = len(first_new) == len(servers) and len(servers) > 0
    last_first = max(first_new.values()) if complete else None
    gone_all = max(old_gone.values()) if len(old_gone) == len(servers) and servers else None
    dep = [m for m in mtimes if m > t0]
    deploy = dep[0] if dep else a.deploy
    st = None
    for s in states:
        if (s.get("times") or {}).get("t_reload") is not None:
            st = s
    res["ms_source"] = None
    if st is not None:
        if isinstance(st.get("times_ms"), dict) and st["times_ms"].get("t_reload") is not None:
            tm = {k: (v / 1000.0 if v is not None else None) for k, v in st["times_ms"].items()}
            res["ms_source"] = "times_ms"
        else:
            tm = {k: (float(v) if v is not None else None) for k, v in st["times"].items()}
            res["ms_source"] = "times"
        t_pub, t_conf, t_reload = tm.get("t_pub"), tm.get("t_conf"), tm.get("t_reload")
        ttl = st.get("ttl_eff")
        res.update(t_pub=t_pub, t_conf=t_conf, t_reload=t_reload, ttl_eff=ttl)
        dat = None
        for s_ in states:  # the daemon's own deploy moment, last recorded
            if s_.get("deploy_at_ms") is not None:
                dat = s_["deploy_at_ms"] / 1000.0
            elif s_.get("deploy_at") is not None:
                dat = float(s_["deploy_at"])
        res["deploy_at"] = dat
    res.update(last_first_served=last_first, old_gone_all=gone_all, deploy=deploy)
    ok = st is not None and last_first is not None and deploy is not None
    if ok:
        formula = max(last_first, t_pub + a.min_delay) + a.factor * ttl + a.safety
        res["formula"] = formula
        res["now_deploy_s"] = deploy - t0
        res["now_formula_s"] = formula - t0
        res["ratio"] = (deploy - t0) / (formula - t0)
        res["tconf_lag_ms"] = (t_conf - last_first) * 1000.0
        res["now_last_served_s"] = last_first - t0
        if res.get("deploy_at") is not None:
            res["mtime_deploy_at_ms"] = (deploy - res["deploy_at"]) * 1000.0
    if st is not None and gone_all is not None:
        res["retire_lag_s"] = gone_all - (t_reload + a.retire_delay)
    print(json.dumps(res))


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, f):
    return "n/a" if x is None else f % x


def report(a):
    rows = []
    for fn in a.files:
        for line in open(fn):
            line = line.strip()
            if line.startswith("{"):
                rows.append(json.loads(line))
    setups = []
    for r in rows:
        if r["setup"] not in setups:
            setups.append(r["setup"])
    builds = []
    for r in rows:
        if r["build"] not in builds:
            builds.append(r["build"])
    print("| setup | build | run | now -> last server serves (s) | now -> formula (s) "
          "| now -> deploy (s) | deploy / formula | T_conf - last served (ms) "
          "| old gone - (T_reload + retire_delay) (s) | main.cf mtime - deploy_at (ms) "
          "| state times |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for su in setups:
        for b in builds:
            rs = [r for r in rows if r["setup"] == su and r["build"] == b]
            for r in rs:
                print("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    su, b, r["run"], fmt(r.get("now_last_served_s"), "%.2f"),
                    fmt(r.get("now_formula_s"), "%.2f"), fmt(r.get("now_deploy_s"), "%.2f"),
                    fmt(r.get("ratio"), "%.3f"), fmt(r.get("tconf_lag_ms"), "%.0f"),
                    fmt(r.get("retire_lag_s"), "%.2f"), fmt(r.get("mtime_deploy_at_ms"), "%.0f"),
                    r.get("ms_source") or "n/a"))
    print()
    print("Medians (goals: deploy / formula <= 1.03, T_conf - last served <= 250 ms, "
          "retire lag <= 1 s):")
    print()
    print("| setup | build | runs | now -> formula (s) | now -> deploy (s) | deploy / formula "
          "| T_conf - last served (ms) | retire lag (s) | main.cf mtime - deploy_at (ms) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for su in setups:
        for b in builds:
            rs = [r for r in rows if r["setup"] == su and r["build"] == b]
            if not rs:
                continue
            m = lambda k: med([r.get(k) for r in rs])
            print("| %s | %s | %d | %s | %s | **%s** | **%s** | **%s** | %s |" % (
                su, b, len(rs), fmt(m("now_formula_s"), "%.2f"), fmt(m("now_deploy_s"), "%.2f"),
                fmt(m("ratio"), "%.3f"), fmt(m("tconf_lag_ms"), "%.0f"),
                fmt(m("retire_lag_s"), "%.2f"), fmt(m("mtime_deploy_at_ms"), "%.0f")))


def main():
    ap = argparse.ArgumentParser()
    sp = ap.add_subparsers(dest="cmd", required=True)
    w = sp.add_parser("watch")
    w.add_argument("--out", required=True)
    w.add_argument("--name", required=True)
    w.add_argument("--main-cf", required=True)
    w.add_argument("--state-file", required=True)
    w.add_argument("--status", required=True)
    w.add_argument("--max", type=float, default=600)
    w.add_argument("servers", nargs="+")
    n = sp.add_parser("analyze")
    n.add_argument("--log", required=True)
    n.add_argument("--t0", type=float, required=True)
    n.add_argument("--old", required=True)
    n.add_argument("--new", required=True)
    n.add_argument("--factor", type=float, required=True)
    n.add_argument("--safety", type=float, required=True)
    n.add_argument("--min-delay", type=float, default=0)
    n.add_argument("--retire-delay", type=float, required=True)
    n.add_argument("--deploy", type=float)
    n.add_argument("--setup", default="")
    n.add_argument("--build", default="")
    n.add_argument("--run", type=int, default=0)
    r = sp.add_parser("report")
    r.add_argument("files", nargs="+")
    a = ap.parse_args()
    {"watch": watch, "analyze": analyze, "report": report}[a.cmd](a)


if __name__ == "__main__":
    main()
