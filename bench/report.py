"""bench/run's output: RESULTS.md (a table per benchmark, the exact commands, the sizing
notes), results.json beside it, and gnuplot PNGs in plots/."""

import json
import math
import os
import subprocess

from benchlib import BenchError


def _num(v):
    if isinstance(v, int):
        return str(v)
    if v == 0 or abs(v) >= 100:
        return "%.1f" % v
    return "%.3g" % v if abs(v) >= 0.01 else "%.4f" % v


def _row_md(r):
    v = r["value"]
    val = "%s %s" % (_num(v["median"]), r["unit"]) if r["unit"] else _num(v["median"])
    rng = "%s–%s" % (_num(v["min"]), _num(v["max"])) if len(v["runs"]) > 1 else ""
    ref = r.get("reference", "")
    if "reference_value" in r:
        ref += ": %s" % _num(r["reference_value"]["median"])
    ratio = ""
    if "ratio" in r:
        q = r["ratio"]
        ratio = "%.3f (%.3f–%.3f)" % (q["median"], q["min"], q["max"])
    note = r.get("note", "")
    cells = [r["metric"], val, rng, ref, ratio, r.get("target", ""), r.get("result", ""), note]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _table_md(t):
    out = ["", "%s:" % t["title"], "", "| " + " | ".join(t["columns"]) + " |",
           "|" + "---|" * len(t["columns"])]
    for r in t["rows"]:
        out.append("| " + " | ".join(_num(x) if isinstance(x, float) else str(x) for x in r)
                   + " |")
    return out


def sizing(benches):
    """Plain sizing statements from the scaling figures that were measured."""
    s = {}
    for b in benches.values():
        s.update({k: v for k, v in b.get("scaling", {}).items() if not isinstance(v, dict)})
    lines = []
    if "cpu_s_per_1000" in benches.get("sim-throughput", {}).get("scaling", {}):
        st = benches["sim-throughput"]["scaling"]
        lines.append("- A simulator serving zero-latency non-streaming chat costs %.3f CPU-seconds "
                     "per 1,000 requests: about %.0f req/s per core. On these 2 cores (shared with "
                     "the load generator) throughput peaks at %.0f req/s and reaches 95%% of that "
                     "at %d connections; more connections only add latency."
                     % (st["cpu_s_per_1000"], 1000 / st["cpu_s_per_1000"], st["peak_rps"],
                        st["saturating_connections"]))
    if "cpu_s_per_1000_tokens" in s:
        line = ("- Streaming costs %.3f CPU-seconds per 1,000 tokens: CPU alone would allow about "
                "%.0f tokens/s per core." % (s["cpu_s_per_1000_tokens"],
                                             1000 / s["cpu_s_per_1000_tokens"]))
        if s.get("fidelity_streams"):
            line += (" Timing stays faithful (p99 ITL error ≤ 2 ms) up to %d concurrent streams "
                     "at 20 ms ITL (%d tokens/s in steady state) on these 2 cores, shared with the "
                     "load generator; past that the error grows (fidelity table), steeply from "
                     "1,000 streams, where a thread per stream saturates them. Size pods by "
                     "that figure, not by the CPU one."
                     % (s["fidelity_streams"], s["fidelity_streams"] * 50))
        lines.append(line)
    if "rss_kib_per_stream" in s:
        lines.append("- Each in-flight stream holds %.1f KiB of RSS: 1,000 concurrent streams per "
                     "pod need about %.0f MiB on top of the idle process."
                     % (s["rss_kib_per_stream"], s["rss_kib_per_stream"] * 1000 / 1024))
    if "cpu_s_per_1000" in benches.get("sidecar-passthrough", {}).get("scaling", {}):
        sc = benches["sidecar-passthrough"]["scaling"]
        lines.append("- The sidecar's pass-through costs %.3f CPU-seconds per 1,000 requests "
                     "(about %.0f req/s per core)" % (sc["cpu_s_per_1000"],
                                                      1000 / sc["cpu_s_per_1000"]) +
                     ("; a P/D request, %.3f CPU-seconds per 1,000."
                      % s["sidecar_cpu_s_per_1000_pd"] if "sidecar_cpu_s_per_1000_pd" in s
                      else "."))
    if "controller_rss_kib_per_cr" in s:
        lines.append("- The controller's RSS grows by %.1f KiB per PDSimulation it manages."
                     % s["controller_rss_kib_per_cr"])
    return lines


def markdown(doc, notes):
    out = ["# pdsim benchmark results", "",
           "Written by `bench/run` (`bench/run --help`); machine-readable: `results.json`; plots: "
           "`plots/`. Every benchmark runs its reference side by side in the same run and "
           "reports the ratio, because absolute numbers drift on a shared machine. Values are "
           "medians of the runs, with min–max.", ""]
    for name, b in doc["benchmarks"].items():
        out += ["## %s: %s" % (name, b["title"]), "",
                "Run %s, %s mode, %d run(s) per measurement, %.0f s. Machine: %s."
                % (b["date"], b["mode"], b["runs"], b["seconds"], b["machine"]), "",
                "| measurement | pdsim | min–max | reference | ratio (min–max) | target | result "
                "| note |", "|---|---|---|---|---|---|---|---|"]
        out += [_row_md(r) for r in b["rows"]]
        for t in b.get("tables", []):
            out += _table_md(t)
        for p in b.get("plots", []):
            out += ["", "![%s](plots/%s)" % (p, p)]
        out += ["", "Commands (`$BUILD` = the build directory, `$WORK` = a temporary directory):",
                "", "```"] + b["commands"] + ["```", ""]
    lines = sizing(doc["benchmarks"])
    if lines:
        out += ["## Sizing", "", "From the figures above (this machine; scale by your cores):",
                ""] + lines + [""]
    if notes:
        out += [notes.rstrip(), ""]
    return "\n".join(out)


def save(outdir, doc, notes):
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")
    with open(os.path.join(outdir, "RESULTS.md"), "w") as f:
        f.write(markdown(doc, notes))


def _gnuplot(path, script, data):
    """Run gnuplot with inline data blocks ($name << EOD); raise on failure."""
    text = "".join("$%s << EOD\n%s\nEOD\n" % (k, "\n".join(" ".join(str(x) for x in r)
                                                          for r in rows))
                   for k, rows in data.items())
    text += "set terminal pngcairo size 900,560 font ',10'\nset output '%s'\nset grid\n" % path
    text += script
    p = subprocess.run(["gnuplot"], input=text, capture_output=True, text=True)
    if p.returncode != 0:
        raise BenchError("gnuplot failed for %s: %s" % (path, p.stderr[-500:]))


def _hist(values, lo, hi, nbins):
    w = (hi - lo) / nbins
    counts = [0] * nbins
    for v in values:
        i = int((v - lo) / w)
        if 0 <= i < nbins:
            counts[i] += 1
    return [[lo + (i + 0.5) * w, c] for i, c in enumerate(counts)], w


def _pdf(mean, sd, n, w, lo, hi):
    """The configured normal, clamped to [0.3, 1.7] x mean, as expected counts per bin."""
    pts = []
    steps = 200
    for i in range(steps + 1):
        x = lo + (hi - lo) * i / steps
        y = 0.0
        if 0.3 * mean <= x <= 1.7 * mean:
            y = n * w * math.exp(-0.5 * ((x - mean) / sd) ** 2) / (sd * math.sqrt(2 * math.pi))
        pts.append([x, y])
    return pts


def plots(name, sec, plotdir):
    """Draw the benchmark's plots; returns their file names."""
    p = sec.get("plot")
    if not p:
        return []
    os.makedirs(plotdir, exist_ok=True)
    made = []

    def out(fn):
        made.append(fn)
        return os.path.join(plotdir, fn)

    if p["kind"] == "throughput":
        who = "pdsim-sidecar" if name.startswith("sidecar") else "pdsim-simulator"
        _gnuplot(out("%s.png" % name),
                 "set multiplot layout 1,2 title '%s against nginx (medians)'\n"
                 "set logscale x\nset xlabel 'connections'\nset ylabel 'requests/s'\n"
                 "plot $d using 1:2 with linespoints title '%s', $d using 1:3 with linespoints "
                 "title 'nginx'\nset ylabel 'p99 latency (ms)'\nset logscale y\n"
                 "plot $d using 1:5 with linespoints title '%s', $d using 1:6 with linespoints "
                 "title 'nginx'\nunset multiplot\n" % (who, who, who), {"d": p["data"]})
    elif p["kind"] == "fidelity":
        ttft, ttft_sd, itl, itl_sd = p["conf"]
        data = {}
        script = "set multiplot layout 1,2 title 'Measured against configured (N, clamped)'\n"
        for k, mean, sd in (("ttft", ttft, ttft_sd), ("itl", itl, itl_sd)):
            lo, hi = 0.2 * mean, 1.8 * mean
            h, w = _hist(p["samples"][k], lo, hi, 64)
            data["h" + k] = h
            data["p" + k] = _pdf(mean, sd, len(p["samples"][k]), w, lo, hi)
            script += ("set xlabel '%s (ms)'\nset ylabel 'count'\nset style fill solid 0.4\n"
                       "set arrow 1 from %g, graph 0 to %g, graph 1 nohead dt 2\n"
                       "set arrow 2 from %g, graph 0 to %g, graph 1 nohead dt 2\n"
                       "plot $h%s using 1:2 with boxes title 'measured (%d)', $p%s using 1:2 "
                       "with lines lw 2 title 'N(%g, %g) clamped to [%g, %g]'\n"
                       % (k.upper(), 0.3 * mean, 0.3 * mean, 1.7 * mean, 1.7 * mean, k,
                          len(p["samples"][k]), k, mean, sd, 0.3 * mean, 1.7 * mean))
        _gnuplot(out("fidelity-distribution.png"), script + "unset multiplot\n", data)
        _gnuplot(out("fidelity-concurrency.png"),
                 "set multiplot layout 1,2 title '|error| percentiles against concurrent streams'"
                 "\nset logscale xy\nset xlabel 'streams'\nset ylabel 'TTFT |error| (ms)'\n"
                 "plot for [c=2:4] $d using 1:c with linespoints title word('p50 p99 p999',c-1)"
                 "\nset ylabel 'ITL |error| (ms)'\n"
                 "plot for [c=5:7] $d using 1:c with linespoints title word('p50 p99 p999',c-4)"
                 "\nunset multiplot\n", {"d": p["sweep"]})
    elif p["kind"] == "load":
        _gnuplot(out("load-factor.png"),
                 "set title 'ITL under load: F=%g, S=%d, ITL=%g ms'\nset xlabel 'running requests"
                 " r'\nset ylabel 'mean ITL (ms)'\nset key left\n"
                 "f(r) = %g * (1 + (%g - 1) * (r - 1) / (%d - 1))\n"
                 "plot [1:%d] f(x) with lines lw 2 title 'ITL x (1 + (F-1)(r-1)/(S-1))', "
                 "$d using 1:2 with points pt 7 ps 1.5 title 'measured'\n"
                 % (p["factor"], p["seqs"], p["itl"], p["itl"], p["factor"], p["seqs"],
                    p["seqs"]), {"d": p["data"]})
    elif p["kind"] == "controller":
        _gnuplot(out("controller-converge.png"),
                 "set title 'pdsim-controller: time to converge (fake API server)'\n"
                 "set xlabel 'PDSimulations created at once'\nset ylabel 'seconds'\nset key left"
                 "\nplot $d using 1:2:3:4 with yerrorlines title 'median (min-max)'\n",
                 {"d": p["data"]})
    return made
