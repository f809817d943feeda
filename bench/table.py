#!/usr/bin/python3
"""Print the side-by-side table (stsguardd vs PMSR) from results.tsv.

usage: table.py results.tsv [meta.txt]
results.tsv lines: <daemon>\t<group>\t<rep>\t<key=value key=value ...>
  daemon: pmsr | stsguardd; '# meta k=v ...' line with the knobs.
Every cell is the median over reps with (min..max) when there is more than one
rep; the ratio column is median(stsguardd) / median(PMSR).
"""
import statistics
import sys
from collections import defaultdict

path = sys.argv[1]
meta_path = sys.argv[2] if len(sys.argv) > 2 else None
DAEMONS = ("pmsr", "stsguardd")
LABEL = {"pmsr": "PMSR", "stsguardd": "stsguardd"}
data = defaultdict(dict)          # (daemon, group) -> {rep: dict}
events = []                       # (daemon, group, rep, dict) for died/startfail/skipped
meta = {"n_cold": "1000", "n_warm": "100000", "n_big": "10000", "n_nopol": "10000", "herd": "50",
        "reps": "?"}
for line in open(path):
    line = line.rstrip("\n")
    if line.startswith("# meta"):
        meta.update(kv.split("=", 1) for kv in line.split()[2:])
        continue
    if not line.strip() or line.startswith("#"):
        continue
    daemon, group, rep, kv = line.split("\t", 3)
    d = {}
    for item in kv.split():
        k, _, v = item.partition("=")
        try:
            d[k] = float(v)
        except ValueError:
            d[k] = v
    if group in ("died", "startfail") or "skipped" in d:
        events.append((daemon, group, rep, d))
        continue
    data[(daemon, group)][rep] = d

present = [dm for dm in DAEMONS if any(k[0] == dm for k in data)]


def series(daemon, group, key, fn=None):
    """values per rep (dict rep->value) of key (or fn(dict))."""
    out = {}
    for rep, d in data.get((daemon, group), {}).items():
        try:
            v = fn(d) if fn else d[key]
        except (KeyError, ZeroDivisionError, TypeError):
            continue
        if isinstance(v, float) or isinstance(v, int):
            out[rep] = float(v)
    return out


def idle_series(key, fn=None):
    """idle RSS: the fresh daemon of the 10k run (mem_idle), else the one of the main run."""
    def get(dm):
        v = series(dm, "mem_idle", key, fn)
        return v if v else series(dm, "mem_idle_b", key, fn)
    return get


def per_policy(daemon, group="mem_10k"):
    idle = series(daemon, "mem_idle", "rss_kb")
    big = series(daemon, group, "rss_kb")
    nb = float(meta["n_big"]) or 1
    return {r: (big[r] - idle[r]) * 1024 / nb for r in big if r in idle}


def marginal(daemon):
    one = series(daemon, "mem_1k", "rss_kb")
    big = series(daemon, "mem_10k", "rss_kb")
    d = float(meta["n_big"]) - float(meta["n_cold"])
    if d <= 0:
        return {}
    return {r: (big[r] - one[r]) * 1024 / d for r in big if r in one}


def cell(vals, fmt):
    v = sorted(vals.values())
    if not v:
        return None, "n/a"
    m = statistics.median(v)
    s = fmt % m
    if len(v) > 1:
        s += " (" + (fmt % v[0]) + ".." + (fmt % v[-1]) + ")"
    return m, s


NC, NW, NB, NP, NH = meta["n_cold"], meta["n_warm"], meta["n_big"], meta["n_nopol"], meta["herd"]
qpcpu = lambda d: 1e6 / d["cpu_per_q_us"]
cli_us = lambda d: d["client_cpu_s"] / d["queries"] * 1e6
cli_util = lambda d: d["client_cpu_s"] / d["wall_s"] * 100
d_util = lambda d: (d["cpu_user_s"] + d["cpu_sys_s"]) / d["wall_s"] * 100
MiB = lambda k: (lambda d: d[k] / 1024)

# (section, label, getter(daemon)->{rep:value}, fmt, better)
S = lambda g, k, fn=None: (lambda dm: series(dm, g, k, fn))
ROWS = [
    ("Warm: %s cache hits over %s cached domains" % (NW, NC), None, None, None, None),
    ("", "queries/s, 1 conn", S("warm1", "qps"), "%.0f", "higher"),
    ("", "  p50 / p99 latency, 1 conn (ms)", (S("warm1", "p50_ms"), S("warm1", "p99_ms")), "%.3f", "lower"),
    ("", "queries/s, 16 conns", S("warm16", "qps"), "%.0f", "higher"),
    ("", "  p50 / p99 latency, 16 conns (ms)", (S("warm16", "p50_ms"), S("warm16", "p99_ms")), "%.3f", "lower"),
    ("", "daemon CPU µs per warm query, 1 conn (user+sys, /proc/PID/stat)", S("warm1", "cpu_per_q_us"), "%.1f", "lower"),
    ("", "daemon CPU µs per warm query, 16 conns", S("warm16", "cpu_per_q_us"), "%.1f", "lower"),
    ("", "  cross-check: schedstat µs/query, 16 conns (live threads, ns clock)", S("warm16", "sched_per_q_us"), "%.2f", "lower"),
    ("", "**warm queries per daemon CPU-second, 1 conn**", S("warm1", None, qpcpu), "%.0f", "higher"),
    ("", "**warm queries per daemon CPU-second, 16 conns**", S("warm16", None, qpcpu), "%.0f", "higher"),
    ("", "daemon CPU use during warm, 16 conns (% of one core)", S("warm16", None, d_util), "%.0f", ""),
    ("", "client CPU µs per query, 1 / 16 conns", (S("warm1", None, cli_us), S("warm16", None, cli_us)), "%.1f", ""),
    ("", "client CPU use, 16 conns (% of one core; ~100 = client-bound)", S("warm16", None, cli_util), "%.0f", ""),
    ("Cold: policy discovery for new domains (DNS + HTTPS fetch on loopback)", None, None, None, None),
    ("", "**%s new domains, 50 conns: fetches/s**" % NC, S("cold50", "qps"), "%.0f", "higher"),
    ("", "  p50 / p99 latency (ms)", (S("cold50", "p50_ms"), S("cold50", "p99_ms")), "%.2f", "lower"),
    ("", "  daemon CPU ms per fetch", S("cold50", "cpu_per_q_us", lambda d: d["cpu_per_q_us"] / 1e3), "%.3f", "lower"),
    ("", "%s new domains, 1 conn: fetches/s" % NC, S("cold1", "qps"), "%.0f", "higher"),
    ("", "  p50 / p99 latency (ms)", (S("cold1", "p50_ms"), S("cold1", "p99_ms")), "%.2f", "lower"),
    ("", "  daemon CPU ms per fetch", S("cold1", None, lambda d: d["cpu_per_q_us"] / 1e3), "%.3f", "lower"),
    ("", "%s new domains, 50 conns: fetches/s" % NB, S("cold10k", "qps"), "%.0f", "higher"),
    ("", "HTTPS fetches caused by %s simultaneous queries for ONE uncached domain (nginx log)" % NH,
     S("herd", "fetches"), "%.0f", "lower"),
    ("", "  answers OK / %s for that burst; fetches caused by a 2nd burst" % NH,
     (S("herd", "ok"), S("herd", "fetches2")), "%.0f", ""),
    ("No-policy domains (no _mta-sts TXT): %s queries over 1000 domains" % NP, None, None, None, None),
    ("", "queries/s, 1 conn", S("nopol1", "qps"), "%.0f", "higher"),
    ("", "queries/s, 16 conns", S("nopol16", "qps"), "%.0f", "higher"),
    ("", "  p99 latency 1 / 16 conns (ms)", (S("nopol1", "p99_ms"), S("nopol16", "p99_ms")), "%.3f", "lower"),
    ("", "  daemon CPU µs per query, 16 conns", S("nopol16", "cpu_per_q_us"), "%.1f", "lower"),
    ("Memory (fresh daemon per state)", None, None, None, None),
    ("", "**RSS idle after start, before queries: VmRSS (MiB)**", idle_series(None, MiB("rss_kb")), "%.2f", "lower"),
    ("", "  VmHWM idle (MiB)", idle_series(None, MiB("hwm_kb")), "%.2f", "lower"),
    ("", "  of the idle VmRSS: RssAnon / RssFile (MiB; RssFile = mapped libraries and files)",
     (idle_series(None, MiB("anon_kb")), idle_series(None, MiB("file_kb"))), "%.2f", "lower"),
    ("", "RSS with %s cached policies: VmRSS (MiB)" % NB, S("mem_10k", None, MiB("rss_kb")), "%.2f", "lower"),
    ("", "  VmHWM with %s cached (MiB)" % NB, S("mem_10k", None, MiB("hwm_kb")), "%.2f", "lower"),
    ("", "  RssAnon with %s cached (MiB)" % NB, S("mem_10k", None, MiB("anon_kb")), "%.2f", "lower"),
    ("", "**bytes per cached policy = (VmRSS_%s - VmRSS_idle)/%s**" % (NB, NB), per_policy, "%.0f", "lower"),
    ("", "RSS with %s cached after %s s idle (\"settled\"): VmRSS / RssAnon (MiB)" % (NB, meta.get("settle", "?")),
     (S("mem_10k_settled", None, MiB("rss_kb")), S("mem_10k_settled", None, MiB("anon_kb"))), "%.2f", "lower"),
    ("", "**bytes per cached policy, settled = (VmRSS_%s_settled - VmRSS_idle)/%s**" % (NB, NB),
     lambda dm: per_policy(dm, "mem_10k_settled"), "%.0f", "lower"),
    ("", "  marginal bytes per policy = (VmRSS_%s - VmRSS_%s)/%d (1k and 10k filled the same way)" % (NB, NC, int(NB) - int(NC)),
     marginal, "%.0f", "lower"),
    ("", "VmHWM with %s cached after 2x%s warm queries (MiB)" % (NC, NW), S("mem_after_warm", None, MiB("hwm_kb")), "%.2f", "lower"),
    ("", "threads (idle / %s cached)" % NB, (S("mem_idle", "threads"), S("mem_10k", "threads")), "%.0f", ""),
    ("Noise check", None, None, None, None),
    ("", "CPU used by other work on the machine, % of a core: warm 1 / warm 16 / cold 50",
     (S("warm1", "foreign_cpu_pct"), S("warm16", "foreign_cpu_pct"), S("cold50", "foreign_cpu_pct")), "%.0f", "~0"),
]

if meta_path:
    for line in open(meta_path):
        print("# " + line.rstrip() if line.strip() else "")
print("# reps=%s cold=%s warm=%s big=%s nopol=%s herd=%s cache_grace(PMSR)=%s pin=%s transport=%s ca_bundle=%s" % (
    meta["reps"], NC, NW, NB, NP, NH, meta.get("cache_grace", "?"), meta.get("pin", "?"), meta.get("transport", "inet"), meta.get("ca_bundle", "test")))
print()
cols = [LABEL[d] for d in DAEMONS]
print("| figure | %s | %s | stsguardd/PMSR | better |" % tuple(cols))
print("|---|---|---|---|---|")
medians = {}
for sec, label, get, fmt, better in ROWS:
    if get is None:
        print("| **%s** | | | | |" % sec)
        continue
    cells, ms = [], []
    for dm in DAEMONS:
        if dm not in present:
            cells.append("not measured"); ms.append(None); continue
        if isinstance(get, tuple):
            parts = [cell(g(dm), fmt) for g in get]
            cells.append(" / ".join(p[1] for p in parts)); ms.append(tuple(p[0] for p in parts))
        else:
            m, s = cell(get(dm), fmt)
            cells.append(s); ms.append(m)
    medians[label] = ms

    def ratio(a, b):
        if a is None or b is None or b == 0:
            return "–"
        return "%.2f×" % (a / b)
    if isinstance(ms[0], tuple) or isinstance(ms[1], tuple):
        n = len(ms[1] if isinstance(ms[1], tuple) else ms[0])
        a = ms[1] if isinstance(ms[1], tuple) else (None,) * n
        b = ms[0] if isinstance(ms[0], tuple) else (None,) * n
        r = " / ".join(ratio(x, y) for x, y in zip(a, b))
    else:
        r = ratio(ms[1], ms[0])
    print("| %s | %s | %s | %s | %s |" % (label, cells[0], cells[1], r, better))


def med(label, dm):
    v = medians.get(label, [None, None])[DAEMONS.index(dm)]
    return v


print("\n## Targets (measured, not asserted)\n")
def target(text, value, ok):
    if value is None:
        print("- %s: **n/a** (not measured)" % text)
    else:
        print("- %s: %s → **%s**" % (text, value, "met" if ok else "not met"))

for lab, name in (("**warm queries per daemon CPU-second, 16 conns**", "16 conns"),
                  ("**warm queries per daemon CPU-second, 1 conn**", "1 conn")):
    a, b = med(lab, "stsguardd"), med(lab, "pmsr")
    if a is None or b is None:
        target(">= 10× PMSR's warm queries per daemon CPU-second (%s)" % name, None, False)
    else:
        target(">= 10× PMSR's warm queries per daemon CPU-second (%s)" % name,
               "%.0f vs %.0f = %.1f×" % (a, b, a / b), a / b >= 10)
lab = "**%s new domains, 50 conns: fetches/s**" % NC
a, b = med(lab, "stsguardd"), med(lab, "pmsr")
target(">= 3× PMSR's cold fetch rate (%s new domains, 50 conns)" % NC,
       None if a is None or b is None else "%.0f vs %.0f fetches/s = %.2f×" % (a, b, a / b),
       a is not None and b is not None and a / b >= 3)
lab = "**bytes per cached policy = (VmRSS_%s - VmRSS_idle)/%s**" % (NB, NB)
a = med(lab, "stsguardd")
b = med("**bytes per cached policy, settled = (VmRSS_%s_settled - VmRSS_idle)/%s**" % (NB, NB), "stsguardd")
if b is not None:
    target("<= 300 bytes RSS per cached policy (stsguardd, settled)",
           "%.0f bytes settled (%s right after the fill)" % (b, "n/a" if a is None else "%.0f" % a), b <= 300)
else:
    target("<= 300 bytes RSS per cached policy (stsguardd)", None if a is None else "%.0f bytes" % a,
           a is not None and a <= 300)
a = med("**RSS idle after start, before queries: VmRSS (MiB)**", "stsguardd")
target("idle RSS <= 8 MiB (stsguardd, VmRSS)", None if a is None else "%.2f MiB" % a, a is not None and a <= 8)

print("\n## Answer check (all measured runs, summed)\n")
for dm in DAEMONS:
    if dm not in present:
        continue
    tot = defaultdict(float)
    for (d, g), reps in data.items():
        if d != dm:
            continue
        for r in reps.values():
            for k in ("queries", "ok", "notfound", "other", "mismatch", "errors"):
                if isinstance(r.get(k), float):
                    tot[k] += r[k]
    bad = tot["mismatch"] + tot["other"] + tot["errors"]
    print("- %s: %d queries, ok=%d notfound=%d other=%d mismatch=%d errors=%d%s" % (
        LABEL[dm], tot["queries"], tot["ok"], tot["notfound"], tot["other"], tot["mismatch"], tot["errors"],
        "  **<- WRONG/FAILED ANSWERS**" if bad else ""))
for (dm, g), reps in sorted(data.items()):
    for rep, d in sorted(reps.items()):
        if isinstance(d.get("foreign_cpu_pct"), float) and d["foreign_cpu_pct"] > 25 and d.get("wall_s", 0) > 0.5:
            print("- NOISE: %s %s rep %s: other work on the machine used %.0f %% of a core during this run"
                  % (LABEL.get(dm, dm), g, rep, d["foreign_cpu_pct"]))
for dm, g, rep, d in events:
    print("- %s rep %s: %s %s" % (LABEL.get(dm, dm), rep, g, " ".join("%s=%s" % kv for kv in d.items())))
for dm in DAEMONS:
    if dm not in present:
        print("- %s: **not measured** (column skipped; see SKIPPED above)" % LABEL[dm])
