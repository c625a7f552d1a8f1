"""Shared by bench/run's benchmarks: the run context, processes on loopback that are
always stopped, wrk and nginx, /proc readings, and the row model of the report.

Standard library only (Debian's /usr/bin/python3). The pdsim binaries are started with
tests/integration/harness.py's Proc (127.0.0.1, port 0, the real port read back)."""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402  (the path above)

CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A benchmark crashed or measured nonsense (the suite fails on it, even in quick mode)."""


class Ctx:
    """One suite run: options, binaries, a work directory, what was started."""

    def __init__(self, build, quick, runs, workdir):
        self.build, self.quick, self.runs, self.work = build, quick, runs, workdir
        self.procs = []
        self.bench = ""
        self.commands = []

    def bin(self, rel):
        return os.path.join(self.build, rel)

    @property
    def sim(self):
        return self.bin("simulator/pdsim-simulator")

    @property
    def sidecar(self):
        return self.bin("sidecar/pdsim-sidecar")

    def progress(self, msg):
        line = "[%s] %s" % (self.bench, msg)
        sys.stderr.write("\r\033[K" + line[:200] if sys.stderr.isatty() else line + "\n")
        sys.stderr.flush()

    def done_progress(self):
        if sys.stderr.isatty():
            sys.stderr.write("\r\033[K")

    def record(self, argv):
        """Keep a command line for the report's 'exact commands'."""
        text = " ".join(a if re.fullmatch(r"[\w@%+=:,./-]+", a) else "'%s'" % a for a in argv)
        text = text.replace(self.build + "/", "$BUILD/").replace(self.work + "/", "$WORK/")
        text = text.replace(ROOT + "/", "")
        # ports differ every run: name them
        text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:$PORT", text)
        text = re.sub(r"(--(?:prefill|decode|sidecar|model-server-port|port)) [1-9]\d*",
                      r"\1 $PORT", text)
        if text not in self.commands:
            self.commands.append(text)

    def record_file(self, path, text):
        """Keep a file the commands use (a wrk script, an nginx config) for the report."""
        name = path.replace(self.work + "/", "$WORK/")
        text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:$PORT", text)
        self.commands.append("cat > %s <<'EOF'\n%sEOF" % (name, text if text.endswith("\n")
                                                         else text + "\n"))

    def start(self, binary, args, http_threads=None, env=None):
        """A pdsim server on 127.0.0.1:0 (its Proc; .port, .p.pid), with the binary's own
        --http-threads unless given."""
        extra = ["--http-threads", str(http_threads)] if http_threads else []
        self.record([binary, "--host", "127.0.0.1", "--port", "0"] + extra + list(args))
        p = harness.Proc(binary, args, env=env, http_threads=http_threads)
        self.procs.append(p)
        return p

    def stop(self, p):
        p.terminate()
        try:
            p.wait(30)
        finally:
            if p in self.procs:
                self.procs.remove(p)

    def nginx(self, http_block):
        """nginx (one process tree, no daemon) with `http_block` inside http {}; its port."""
        d = tempfile.mkdtemp(dir=self.work, prefix="nginx.")
        port = harness.free_port()
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write("daemon off;\npid %s/nginx.pid;\nerror_log %s/error.log;\n" % (d, d) +
                    http_block.get("main", "worker_processes 1;") + "\n"
                    "events { worker_connections 4096; }\n"
                    "http { access_log off; client_body_temp_path %s; proxy_temp_path %s;\n"
                    "server { listen 127.0.0.1:%d;\n%s\n}\n%s\n}\n"
                    % (d, d, port, http_block["server"], http_block.get("http", "")))
        with open(conf) as f:
            self.record_file(os.path.join(self.work, "nginx", "nginx.conf"), f.read().replace(d + "/", "$WORK/nginx/")
                             .replace(d, "$WORK/nginx")
                             .replace("127.0.0.1:%d;" % port, "127.0.0.1:$PORT;"))
        self.record(["nginx", "-c", conf.replace(d, os.path.join(self.work, "nginx"))])
        p = subprocess.Popen(["nginx", "-c", conf], stderr=subprocess.DEVNULL)
        self.procs.append(_Popen(p))
        wait_port(port)
        return port

    def cleanup(self):
        for p in list(self.procs):
            try:
                p.terminate()
                p.wait(30)
            except Exception:  # noqa: BLE001 (best effort: every process is stopped)
                p.p.kill()
        self.procs = []


class _Popen:
    """A plain subprocess with Proc's terminate/wait, so cleanup treats both alike."""

    def __init__(self, p):
        self.p = p

    def terminate(self):
        if self.p.poll() is None:
            self.p.terminate()

    def wait(self, timeout):
        return self.p.wait(timeout)


def wait_port(port, timeout=10):
    import socket
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise BenchError("nothing listens on 127.0.0.1:%d after %ds" % (port, timeout))


def run(ctx, argv, timeout=900):
    """Run a client tool to completion; its stdout. A failure is a BenchError."""
    ctx.record(argv)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise BenchError("%s exited %d: %s" % (os.path.basename(argv[0]), p.returncode,
                                               (p.stderr or p.stdout)[-800:]))
    return p.stdout


def write_lua(ctx, body, headers=None):
    path = os.path.join(ctx.work, "post-%d.lua" % len(os.listdir(ctx.work)))
    lines = ['wrk.method = "POST"', "wrk.body = %s" % json.dumps(body),
             'wrk.headers["Content-Type"] = "application/json"']
    for k, v in (headers or {}).items():
        lines.append('wrk.headers[%s] = %s' % (json.dumps(k), json.dumps(v)))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    ctx.record_file(path, "\n".join(lines) + "\n")
    return path


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * _UNIT[m.group(2)]


def wrk(ctx, url, lua, conns, secs):
    """One wrk run (1 thread): {rps, p50_ms, p99_ms, requests}. Errors or non-2xx
    answers make it a BenchError: a throughput of failures is nonsense."""
    out = run(ctx, ["wrk", "-t1", "-c%d" % conns, "-d%ds" % secs, "--latency", "-s", lua, url])
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    reqs = re.search(r"(\d+) requests in", out)
    if not rps or not reqs or float(rps.group(1)) <= 0:
        raise BenchError("wrk measured nothing at %s:\n%s" % (url, out))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if bad or (errs and any(int(x) for x in errs.groups())):
        raise BenchError("wrk saw failed requests at %s:\n%s" % (url, out))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    return {"rps": float(rps.group(1)), "requests": int(reqs.group(1)),
            "p50_ms": _ms(lat["50"]), "p99_ms": _ms(lat["99"])}


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid, key="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise BenchError("no %s for pid %d" % (key, pid))


def metric(port, name):
    """A simulator metric's value from /metrics (the first series of that name)."""
    st, _, body = harness.http_request(port, "GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise BenchError("no %s in /metrics" % name)


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 1048576
    return "%d cores (%s), %.0f GiB, kernel %s" % (os.cpu_count(), cpu, mem, os.uname().release)


def summary(values):
    """{median, min, max, runs} of a list of numbers (the median of an even count is the
    lower middle one, a value that was measured)."""
    if not values:
        raise BenchError("no values to summarise")
    v = sorted(values)
    return {"median": v[(len(v) - 1) // 2], "min": v[0], "max": v[-1], "runs": list(values)}


def row(metric_name, unit, values, target=None, reference=None, ref_values=None, ratios=None,
        note="", target_on_ratio=True):
    """One table row. target is (op, number) with op '<=' or '>=' and applies to the ratio
    when ratios are given (unless target_on_ratio is False), otherwise to the median
    value."""
    r = {"metric": metric_name, "unit": unit, "value": summary(values), "note": note}
    if reference:
        r["reference"] = reference
    if ref_values:
        r["reference_value"] = summary(ref_values)
    if ratios:
        r["ratio"] = summary(ratios)
    if target:
        op, t = target
        on_ratio = bool(ratios) and target_on_ratio
        v = r["ratio"]["median"] if on_ratio else r["value"]["median"]
        r["target"] = "%s %g%s" % ("≥" if op == ">=" else "≤", t, "×" if on_ratio else " " + unit)
        r["result"] = "PASS" if (v >= t if op == ">=" else v <= t) else "FAIL"
    return r


def sane(cond, what):
    """Quick mode's guard: measurements that cannot be right stop the suite."""
    if not cond:
        raise BenchError("nonsense measurement: " + what)


def stddev(v):
    return statistics.pstdev(v) if len(v) > 1 else 0.0


def tool(name):
    if not shutil.which(name):
        raise BenchError("%s is not installed (scripts/deps.sh bench)" % name)
