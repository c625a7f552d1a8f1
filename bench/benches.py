"""The benchmarks of bench/run. Each takes the run context and returns its section of the
report: rows (median of the runs, min–max, ratio against the reference run in the same
run, target, PASS/FAIL), extra tables, plot data and notes. Quick mode shrinks every
benchmark to seconds and only checks that what it measured makes sense."""

import json
import math
import os
import subprocess
import time

from benchlib import (BenchError, cpu_seconds, harness, metric, row, rss_kib, run, sane,
                      stddev, summary, tool, wrk, write_lua)

MODEL = "bench-model"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "This is a test."}],
        "max_tokens": 10}
URL = "/v1/chat/completions"


def _sweep(ctx, targets, lua, conns, secs, label):
    """wrk against each (name, port) target at each connection count, alternating the
    targets run by run. Returns {conns: {name: [wrk results]}}."""
    out = {}
    for c in conns:
        out[c] = {name: [] for name, _ in targets}
        for i in range(ctx.runs):
            for name, port in targets:
                ctx.progress("%s: %d connections, run %d/%d, %s" % (label, c, i + 1, ctx.runs,
                                                                     name))
                out[c][name].append(wrk(ctx, "http://127.0.0.1:%d%s" % (port, URL), lua, c, secs))
    return out


def _sweep_table(sweep, a, b):
    rows = []
    for c, res in sorted(sweep.items()):
        ra = [r["rps"] for r in res[a]]
        rb = [r["rps"] for r in res[b]]
        ratio = [x / y for x, y in zip(ra, rb)]
        rows.append([c, summary(ra)["median"], summary(rb)["median"], summary(ratio)["median"],
                     summary([r["p99_ms"] for r in res[a]])["median"],
                     summary([r["p99_ms"] for r in res[b]])["median"]])
    return rows


def _throughput(ctx, name, front, ref, ref_desc, target, cpu_pid, lua):
    conns = [10] if ctx.quick else [1, 10, 50, 100, 200]
    main_c = 10 if ctx.quick else 50
    secs = 1 if ctx.quick else 5
    cpu0 = {}
    sweep = {}
    for c in conns:
        cpu0[c] = cpu_seconds(cpu_pid)
        sweep.update(_sweep(ctx, [("pdsim", front), ("nginx", ref)], lua, [c], secs, name))
        cpu0[c] = (cpu_seconds(cpu_pid) - cpu0[c], sum(r["requests"] for r in sweep[c]["pdsim"]))
    m = sweep[main_c]
    ours = [r["rps"] for r in m["pdsim"]]
    theirs = [r["rps"] for r in m["nginx"]]
    ratios = [x / y for x, y in zip(ours, theirs)]
    for v in ours + theirs:
        sane(v > 0, "%s: %s req/s" % (name, v))
    cpu, reqs = cpu0[main_c]
    sane(reqs > 0 and cpu > 0, "%s: no CPU time or requests" % name)
    table = _sweep_table(sweep, "pdsim", "nginx")
    peak = max(t[1] for t in table)
    sat = min(t[0] for t in table if t[1] >= 0.95 * peak)
    rows = [
        row("non-streaming chat, wrk -t1 -c%d -d%ds" % (main_c, secs), "req/s", ours, target,
            reference=ref_desc, ref_values=theirs, ratios=ratios),
        row("p99 latency at %d connections" % main_c, "ms", [r["p99_ms"] for r in m["pdsim"]],
            reference="nginx", ref_values=[r["p99_ms"] for r in m["nginx"]]),
        row("CPU-seconds per 1,000 requests (the pdsim process, at %d connections)" % main_c,
            "s", [cpu / reqs * 1000]),
    ]
    return {"rows": rows,
            "tables": [{"title": "Connections sweep (medians of %d runs; the ratio is the median of "
                                 "the per-run ratios, so it need not equal the ratio of the two "
                                 "medians beside it)" % ctx.runs,
                        "columns": ["connections", "pdsim req/s", "nginx req/s", "ratio",
                                    "pdsim p99 ms", "nginx p99 ms"], "rows": table}],
            "plot": {"kind": "throughput", "data": table},
            "scaling": {"cpu_s_per_1000": cpu / reqs * 1000, "peak_rps": peak,
                        "saturating_connections": sat}}


def sim_throughput(ctx):
    """pdsim-simulator vs nginx returning the simulator's exact body."""
    tool("wrk")
    tool("nginx")
    sim = ctx.start(ctx.sim, ["--model", MODEL, "--mode", "echo", "--max-num-seqs", "1024"])
    st, _, body = harness.http_request(sim.port, "POST", URL, json.dumps(CHAT).encode(),
                                       {"Content-Type": "application/json"})
    sane(st == 200, "simulator answered %d" % st)
    esc = body.decode().replace("\\", "\\\\").replace("'", "\\'")
    ngx = ctx.nginx({"server": "location / { default_type application/json; return 200 '%s'; }"
                     % esc})
    st, _, nbody = harness.http_request(ngx, "POST", URL, b"{}")
    sane(len(nbody) == len(body), "nginx's body differs in size from the simulator's")
    lua = write_lua(ctx, json.dumps(CHAT))
    sec = _throughput(ctx, "sim-throughput", sim.port, ngx,
                      "nginx `return 200` with the same %d-byte body, 1 worker" % len(body),
                      (">=", 0.6), sim.p.pid, lua)
    ctx.stop(sim)
    sec["title"] = "pdsim-simulator throughput against nginx"
    return sec


def sidecar_passthrough(ctx):
    """pdsim-sidecar vs nginx proxy_pass, in front of the same simulator."""
    tool("wrk")
    tool("nginx")
    dec = ctx.start(ctx.sim, ["--model", MODEL, "--mode", "echo", "--max-num-seqs", "1024"])
    sc = ctx.start(ctx.sidecar, ["--secure-proxy=false", "--model-server-port", str(dec.port)],
                   http_threads=256)
    ngx = ctx.nginx({"main": "worker_processes auto;",
                     "http": "upstream sim { server 127.0.0.1:%d; keepalive 256; }" % dec.port,
                     "server": "location / { proxy_pass http://sim; proxy_http_version 1.1; "
                               "proxy_set_header Connection \"\"; proxy_buffering off; }"})
    lua = write_lua(ctx, json.dumps(CHAT))
    sec = _throughput(ctx, "sidecar-passthrough", sc.port, ngx,
                      "nginx `proxy_pass`, keep-alive upstream, 2 workers", (">=", 0.7),
                      sc.p.pid, lua)
    ctx.stop(sc)
    ctx.stop(dec)
    sec["title"] = "pdsim-sidecar pass-through against nginx proxy_pass"
    return sec


def pd_overhead(ctx):
    """A P/D request through the sidecar vs the client running both legs itself."""
    pre = ctx.start(ctx.sim, ["--model", MODEL, "--mode", "echo", "--max-num-seqs", "1024"])
    dec = ctx.start(ctx.sim, ["--model", MODEL, "--mode", "echo", "--max-num-seqs", "1024"])
    sc = ctx.start(ctx.sidecar, ["--secure-proxy=false", "--model-server-port", str(dec.port)],
                   http_threads=256)
    n = 200 if ctx.quick else 4000
    res = []
    cpu0 = cpu_seconds(sc.p.pid)
    for i in range(ctx.runs):
        ctx.progress("run %d/%d: %d requests each way" % (i + 1, ctx.runs, n))
        out = run(ctx, [ctx.bin("bench/pd_overhead"), "--prefill", str(pre.port), "--decode",
                        str(dec.port), "--sidecar", str(sc.port), "--requests", str(n), "--json"])
        j = json.loads(out)
        sane(j["failed"] == 0 and j["sidecar_p50_ms"] > 0 and j["direct_p50_ms"] > 0,
             "pd_overhead: %s" % out.strip())
        res.append(j)
    cpu = cpu_seconds(sc.p.pid) - cpu0
    for p in (sc, dec, pre):
        ctx.stop(p)
    f = lambda k: [r[k] for r in res]  # noqa: E731
    return {"title": "P/D overhead of the sidecar",
            "rows": [row("P/D request, added latency p50", "ms", f("added_p50_ms"), ("<=", 0.3),
                         reference="client runs both legs (p50 ms)",
                         ref_values=f("direct_p50_ms"),
                         ratios=[r["sidecar_p50_ms"] / r["direct_p50_ms"] for r in res],
                         target_on_ratio=False,
                         note="sidecar p50 %.4f ms; ratio = sidecar / direct"
                         % summary(f("sidecar_p50_ms"))["median"]),
                     row("P/D request, added latency p99", "ms", f("added_p99_ms"), ("<=", 1.0),
                         reference="client runs both legs (p99 ms)",
                         ref_values=f("direct_p99_ms"),
                         ratios=[r["sidecar_p99_ms"] / r["direct_p99_ms"] for r in res],
                         target_on_ratio=False,
                         note="sidecar p99 %.4f ms; ratio = sidecar / direct"
                         % summary(f("sidecar_p99_ms"))["median"]),
                     row("sidecar CPU-seconds per 1,000 P/D requests", "s",
                         [cpu / (n * ctx.runs) * 1000])],
            "raw": res, "scaling": {"sidecar_cpu_s_per_1000_pd": cpu / (n * ctx.runs) * 1000}}


def _loadgen(ctx, port, streams, tokens, ttft, itl, ramp, samples=None):
    argv = [ctx.bin("bench/sse_loadgen"), "--model", MODEL, "--port", str(port), "--streams",
            str(streams), "--tokens", str(tokens), "--ttft-ms", str(ttft), "--itl-ms", str(itl),
            "--ramp-ms", str(ramp), "--json"]
    if samples:
        argv += ["--samples", samples]
    j = json.loads(run(ctx, argv))
    sane(j["failed"] == 0 and j["ok"] == streams, "sse_loadgen: %d of %d streams failed"
         % (j["failed"], streams))
    sane(j["tokens"] == streams * tokens, "sse_loadgen: %d tokens, expected %d"
         % (j["tokens"], streams * tokens))
    return j


def _distribution(ctx):
    """Measured TTFT and ITL against the configured normal distribution."""
    ttft, ttft_sd, itl, itl_sd = 100.0, 10.0, 20.0, 4.0
    streams = 20 if ctx.quick else 200
    sim = ctx.start(ctx.sim, ["--model", MODEL, "--max-num-seqs", "2000",
                              "--time-to-first-token", "%gms" % ttft,
                              "--time-to-first-token-std-dev", "%gms" % ttft_sd,
                              "--inter-token-latency", "%gms" % itl,
                              "--inter-token-latency-std-dev", "%gms" % itl_sd])
    runs = []  # per run: {"ttft": [...], "itl": [...]}
    for i in range(ctx.runs):
        path = os.path.join(ctx.work, "samples-%d.txt" % i)
        ctx.progress("distribution run %d/%d: %d streams x 50 tokens, TTFT N(100, 10) ms, "
                     "ITL N(20, 4) ms" % (i + 1, ctx.runs, streams))
        _loadgen(ctx, sim.port, streams, 50, ttft, itl, 1000, samples=path)
        got = {"ttft": [], "itl": []}
        with open(path) as f:
            for line in f:
                k, v = line.split()
                got[k].append(float(v))
        runs.append(got)
    ctx.stop(sim)
    rows = []
    for k, mean, sd in (("ttft", ttft, ttft_sd), ("itl", itl, itl_sd)):
        lo, hi = 0.3 * mean, 1.7 * mean
        merr, serr, share, means, sds = [], [], [], [], []
        for got in runs:
            v = got[k]
            sane(len(v) > 0, "no %s samples" % k)
            m, sdv = sum(v) / len(v), stddev(v)
            means.append(m)
            sds.append(sdv)
            merr.append(abs(m - mean))
            serr.append(abs(sdv / sd - 1))
            share.append(sum(1 for x in v if x < lo - 1 or x > hi + 1) / len(v))
        name, n = k.upper(), len(runs[0][k])
        rows.append(row("%s |mean − configured %g ms| (%d samples a run)" % (name, mean, n), "ms",
                        merr, ("<=", 1.0),
                        note="measured mean %.3f ms" % summary(means)["median"]))
        rows.append(row("%s std-dev: |measured / configured %g ms − 1|" % (name, sd), "", serr,
                        ("<=", 0.15), note="measured %.3f ms" % summary(sds)["median"]))
        rows.append(row("%s share of samples beyond the clamp [%g, %g] ms ± 1 ms" % (name, lo, hi),
                        "", share, ("<=", 0.001)))
    got = {k: [x for r in runs for x in r[k]] for k in ("ttft", "itl")}  # pooled, for the plot
    return rows, got, (ttft, ttft_sd, itl, itl_sd)


def _error_sweep(ctx):
    levels = [1, 10] if ctx.quick else [1, 10, 100, 1000, 2000]
    res = {}
    sim = ctx.start(ctx.sim, ["--model", MODEL, "--max-num-seqs", "2000",
                              "--max-waiting-queue-length", "5000", "--time-to-first-token",
                              "100ms", "--inter-token-latency", "20ms"])
    for n in levels:
        res[n] = []
        for i in range(ctx.runs):
            ctx.progress("error sweep: %d streams, run %d/%d" % (n, i + 1, ctx.runs))
            res[n].append(_loadgen(ctx, sim.port, n, 50, 100, 20, 0 if n == 1 else 1000))
    ctx.stop(sim)
    itl10 = []
    if not ctx.quick:
        sim = ctx.start(ctx.sim, ["--model", MODEL, "--max-num-seqs", "2000",
                                  "--max-waiting-queue-length", "5000", "--time-to-first-token",
                                  "100ms", "--inter-token-latency", "10ms"])
        for i in range(ctx.runs):
            ctx.progress("1000 streams, ITL 10 ms, run %d/%d" % (i + 1, ctx.runs))
            itl10.append(_loadgen(ctx, sim.port, 1000, 50, 100, 10, 1000))
        ctx.stop(sim)
    return res, itl10


def fidelity(ctx):
    """TTFT and ITL as the client measures them: distribution and error vs concurrency."""
    rows, samples, conf = _distribution(ctx)
    res, itl10 = _error_sweep(ctx)
    table = []
    for n, runs in sorted(res.items()):
        med = lambda k, p: summary([r[k][p] for r in runs])["median"]  # noqa: E731
        table.append([n, med("ttft_err_ms", "p50"), med("ttft_err_ms", "p99"),
                      med("ttft_err_ms", "p999"), med("itl_err_ms", "p50"),
                      med("itl_err_ms", "p99"), med("itl_err_ms", "p999"),
                      summary([r["tokens_per_s"] for r in runs])["median"]])
    top = 10 if ctx.quick else 1000
    p = lambda runs, k: [r[k]["p99"] for r in runs]  # noqa: E731
    rows.append(row("%d streams, TTFT 100 ms, ITL 20 ms, 50 tokens: p99 |TTFT error|" % top,
                    "ms", p(res[top], "ttft_err_ms"), ("<=", 2.0)))
    rows.append(row("same: p99 |ITL error|", "ms", p(res[top], "itl_err_ms"), ("<=", 1.0)))
    if itl10:
        rows.append(row("1,000 streams, ITL 10 ms (100k tokens/s): p99 |TTFT error|", "ms",
                        p(itl10, "ttft_err_ms"), note="report only"))
        rows.append(row("same: p99 |ITL error|", "ms", p(itl10, "itl_err_ms"),
                        note="report only; an ideal epoll server measured 0.6–1.6 ms here"))
    return {"title": "Timing fidelity (TTFT and ITL as the client sees them)", "rows": rows,
            "tables": [{"title": "Error percentiles against concurrent streams (TTFT 100 ms, "
                                 "ITL 20 ms, 50 tokens; medians of %d runs)" % ctx.runs,
                        "columns": ["streams", "TTFT p50 ms", "TTFT p99 ms", "TTFT p999 ms",
                                    "ITL p50 ms", "ITL p99 ms", "ITL p999 ms", "tokens/s"],
                        "rows": table}],
            "plot": {"kind": "fidelity", "samples": samples, "conf": conf, "sweep": table},
            "scaling": {"fidelity_streams": max([t[0] for t in table if t[5] <= 2.0] or [0])}}


def load_factor(ctx):
    """--time-factor-under-load: mean ITL against running requests, next to the formula."""
    seqs, factor, itl = 8, 3.0, 20.0
    levels = [1, seqs] if ctx.quick else list(range(1, seqs + 1))
    sim = ctx.start(ctx.sim, ["--model", MODEL, "--max-num-seqs", str(seqs),
                              "--time-factor-under-load", "%g" % factor,
                              "--inter-token-latency", "%gms" % itl])
    table, errs = [], []
    for r in levels:
        got = []
        for i in range(ctx.runs):
            ctx.progress("%d running requests, run %d/%d" % (r, i + 1, ctx.runs))
            j = _loadgen(ctx, sim.port, r, 60, 0, itl, 0)
            got.append(itl + j["itl_err_ms"]["mean"])
        want = itl * (1 + (factor - 1) * (r - 1) / (seqs - 1))
        m = summary(got)["median"]
        sane(m > 0, "mean ITL %s" % m)
        table.append([r, m, want, m / want - 1])
        errs.append(abs(m / want - 1))
    ctx.stop(sim)
    return {"title": "Latency under load (--time-factor-under-load %g, --max-num-seqs %d, "
                     "ITL %g ms)" % (factor, seqs, itl),
            "rows": [row("largest |measured mean ITL / formula − 1| over %d load levels"
                         % len(levels), "", [max(errs)], ("<=", 0.05))],
            "tables": [{"title": "Mean ITL against running requests r (r streams at once, all "
                                 "running since r ≤ --max-num-seqs); formula ITL × (1 + (F−1)"
                                 "(r−1)/(S−1)) (medians of %d runs)" % ctx.runs,
                        "columns": ["r", "measured ms", "formula ms", "relative error"],
                        "rows": table}],
            "plot": {"kind": "load", "data": table, "seqs": seqs, "factor": factor, "itl": itl}}


def controller(ctx):
    """Time to converge against the number of PDSimulations, on the fake API server."""
    ctl = ctx.bin("controller/pdsim-controller")
    counts = [10] if ctx.quick else [10, 50, 200, 500]
    res = {}
    for n in counts:
        res[n] = []
        for i in range(ctx.runs):
            ctx.progress("%d PDSimulations, run %d/%d" % (n, i + 1, ctx.runs))
            out = run(ctx, ["/usr/bin/python3", os.path.join(os.path.dirname(__file__),
                                                             "controller_bench.py"),
                            "--controller", ctl, "--count", str(n), "--idle", "1"])
            j = json.loads(out)
            sane(j["converged"] == n and j["children"] == 4 * n,
                 "controller: %d/%d converged, %d children" % (j["converged"], n, j["children"]))
            res[n].append(j)
    idle = []
    if not ctx.quick:
        ctx.progress("200 PDSimulations, then 60 s idle")
        idle.append(json.loads(run(ctx, ["/usr/bin/python3", os.path.join(
            os.path.dirname(__file__), "controller_bench.py"), "--controller", ctl, "--count",
            "200", "--idle", "60"])))
    main_n = 10 if ctx.quick else 200
    m = res[main_n]
    f = lambda k, rs=m: [r[k] for r in rs]  # noqa: E731
    table = [[n, summary(f("converge_seconds", rs))["median"],
              summary(f("converge_seconds", rs))["min"], summary(f("converge_seconds", rs))["max"],
              summary(f("writes_per_cr", rs))["median"], summary(f("rss_peak_kib", rs))["median"]]
             for n, rs in sorted(res.items())]
    rows = [row("%d PDSimulations created at once → all converged" % main_n, "s",
                f("converge_seconds"), ("<=", 10.0)),
            row("writes per resource to converge (4 applies + status + Events)", "writes",
                f("writes_per_cr"), ("<=", 8.0),
                note="without Events %g" % summary(f("writes_per_cr_without_events"))["median"]),
            row("controller RSS, peak (VmHWM)", "MB", [k * 1024 / 1e6 for k in f("rss_peak_kib")],
                ("<=", 20.0))]
    if idle:
        rows.append(row("writes in 60 s idle after 200 converged", "writes",
                        [r["idle_writes"] for r in idle], ("<=", 0),
                        note="all calls: %d" % idle[0]["idle_calls"]))
    scaling = {}
    if len(counts) > 1:
        lo, hi = counts[0], counts[-1]
        per = (summary(f("rss_kib", res[hi]))["median"] -
               summary(f("rss_kib", res[lo]))["median"]) / (hi - lo)
        scaling["controller_rss_kib_per_cr"] = per
        rows.append(row("controller RSS per PDSimulation (%d vs %d resources)" % (hi, lo),
                        "KiB", [per]))
    return {"title": "pdsim-controller on the fake API server", "rows": rows,
            "tables": [{"title": "Time to converge against resources (%d runs)" % ctx.runs,
                        "columns": ["resources", "median s", "min s", "max s", "writes/resource",
                                    "peak RSS KiB"], "rows": table}],
            "plot": {"kind": "controller", "data": table}, "raw": res, "scaling": scaling}


def _stream_cost(ctx, streams):
    """One run on a fresh simulator: (KiB of RSS per in-flight stream, CPU-seconds per
    1,000 tokens, idle KiB, busy KiB, running)."""
    sim = ctx.start(ctx.sim, ["--model", MODEL, "--max-num-seqs", "2000",
                              "--max-waiting-queue-length", "5000", "--inter-token-latency",
                              "20ms"])
    idle = rss_kib(sim.p.pid)
    cpu0 = cpu_seconds(sim.p.pid)
    argv = [ctx.bin("bench/sse_loadgen"), "--model", MODEL, "--port", str(sim.port), "--streams",
            str(streams), "--tokens", "250", "--ttft-ms", "0", "--itl-ms", "20", "--ramp-ms",
            "1000", "--json"]
    ctx.record(argv)
    lg = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        busy = rss_kib(sim.p.pid)
        running = metric(sim.port, "vllm:num_requests_running")
        out, _ = lg.communicate(timeout=120)
    finally:
        if lg.poll() is None:
            lg.kill()
            lg.wait()
    cpu = cpu_seconds(sim.p.pid) - cpu0
    ctx.stop(sim)
    j = json.loads(out)
    sane(j["failed"] == 0 and running > 0, "scaling: %d failed, %g running" % (j["failed"],
                                                                             running))
    return (busy - idle) / running, cpu / j["tokens"] * 1000, idle, busy, running


def scaling(ctx):
    """What a stream costs: RSS and CPU per in-flight stream and per 1,000 tokens."""
    streams = 50 if ctx.quick else 1000
    res = []
    for i in range(ctx.runs):
        ctx.progress("run %d/%d: %d long streams in flight" % (i + 1, ctx.runs, streams))
        res.append(_stream_cost(ctx, streams))
    per = [r[0] for r in res]
    tok = [r[1] for r in res]
    _, _, idle, busy, running = res[0]
    return {"title": "Cost per stream", "rows": [
        row("RSS per in-flight stream (%d streams)" % streams, "KiB", per, ("<=", 64.0),
            note="first run: idle %d KiB, busy %d KiB, %d running" % (idle, busy, running)),
        row("simulator CPU-seconds per 1,000 streamed tokens (%d streams, ITL 20 ms)" % streams,
            "s", tok)],
        "scaling": {"rss_kib_per_stream": summary(per)["median"],
                    "cpu_s_per_1000_tokens": summary(tok)["median"]}}


ALL = [("sim-throughput", sim_throughput), ("sidecar-passthrough", sidecar_passthrough),
       ("pd-overhead", pd_overhead), ("fidelity", fidelity), ("load-factor", load_factor),
       ("controller", controller), ("scaling", scaling)]


def check_finite(sec):
    for r in sec["rows"]:
        for k in ("value", "ratio", "reference_value"):
            for v in r.get(k, {}).get("runs", []):
                if not math.isfinite(v):
                    raise BenchError("%s: %s is %s" % (r["metric"], k, v))
