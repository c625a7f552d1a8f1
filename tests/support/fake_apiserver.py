#!/usr/bin/python3
"""A fake Kubernetes API server for pdsim-controller's tests (Python stdlib + PyYAML).

It serves the REST paths of any resource (/api/v1/..., /apis/GROUP/VERSION/...) on
127.0.0.1, and reproduces the semantics a controller can observe (see
../shared/reference/operators-and-controllers.md, "A faithful fake API server"):

- one monotonic resourceVersion, bumped by every write and stamped on objects and lists;
- generation 1 at create, bumped only by spec changes (anything outside metadata and
  status) and by the first deletionTimestamp; the status subresource persists only
  .status and the main endpoint ignores .status;
- optimistic concurrency (stale resourceVersion -> 409 Conflict, a PUT without one on a
  custom resource -> 422), POST of an existing name -> 409 AlreadyExists;
- watches as chunked NDJSON: resourceVersion ""/"0" replays the state as ADDED, a later
  one streams newer events from a bounded history, an older one gets ERROR 410 Expired;
  timeoutSeconds ends the stream cleanly; BOOKMARKs when allowWatchBookmarks=true;
  label selectors (=, ==, !=, exists, !exists, in, notin) on lists and watches;
- server-side apply as a merge that creates when absent (fieldManager required, no-op
  applies write nothing), JSON merge patches, deletion with finalizers, and ownerReference
  garbage collection done asynchronously, as kube-controller-manager does;
- errors as Status JSON with reason and code; the items of a LIST of a built-in kind
  carry no apiVersion and kind (custom resources' do), as the real server; container
  resources are normalised (cpu: 1 -> "1", "2000m" -> "2").

Test hooks under /fake/ (never used by the controller):
  POST /fake/deployments {"mode": "instant"|"delayed"|"stuck", "delay": seconds}
      how Deployment status follows the spec (kube-controller-manager's job);
  POST /fake/faults {"fail": {"code": 500|429, "count": N, "only_watch": bool},
                     "drop_watches": true,
                     "wipe_history": true,
                     "conflict": N,
                     "agent": A}   injected failures, a restart, and another writer
      that touches the object of each of the next N PUTs just before it is served (an
      annotation, so no generation bump), which then fails with 409 Conflict; with
      "agent", fail and conflict hit only requests whose User-Agent contains A;
  GET  /fake/requests   every request served, as [{"method", "path", "query", "agent"}];
  POST /fake/token {"token": T}   the bearer token required from now on (--token sets
      the first; without either, no authentication is checked).

Run: fake_apiserver.py [--port P] [--history N] [--bookmark-interval S] [--gc-delay S]
[--state FILE]; it prints {"port": N} on stdout once it listens. With --state, every
acknowledged write is saved to FILE first (as etcd keeps it), and a server started again
on that FILE, e.g. after a SIGKILL, serves the same objects with an empty watch history
and resourceVersions 1000 later, so the old ones are expired: a restarted API server.
"""

import argparse
import bisect
import copy
import http.server
import json
import os
import socket
import socketserver
import sys
import threading
import time
import urllib.parse
import uuid
from datetime import datetime, timezone

import yaml

STATUS_SUBRESOURCE = {"pdsimulations", "deployments", "services"}
CUSTOM = {"pdsimulations"}
KINDS = {"pdsimulations": "PDSimulation", "deployments": "Deployment", "services": "Service",
         "events": "Event", "leases": "Lease", "namespaces": "Namespace", "pods": "Pod",
         "replicasets": "ReplicaSet", "configmaps": "ConfigMap"}


def now_rfc3339():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    def __init__(self, code, reason, message, headers=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.headers = code, reason, message, headers or {}

    def status(self):
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}


def parse_selector(text):
    """Equality- and set-based label selector terms as predicates on a label dict."""
    terms = []
    parts, depth, cur = [], 0, ""
    for ch in text or "":  # split on commas outside parentheses
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    for p in (x.strip() for x in parts):
        if " notin " in p:
            k, vals = p.split(" notin ", 1)
            vs = {v.strip() for v in vals.strip()[1:-1].split(",")}
            terms.append(lambda l, k=k.strip(), vs=vs: l.get(k) not in vs)
        elif " in " in p:
            k, vals = p.split(" in ", 1)
            vs = {v.strip() for v in vals.strip()[1:-1].split(",")}
            terms.append(lambda l, k=k.strip(), vs=vs: l.get(k) in vs)
        elif "!=" in p:
            k, v = p.split("!=", 1)
            terms.append(lambda l, k=k.strip(), v=v.strip(): l.get(k) != v)
        elif "==" in p or "=" in p:
            k, v = p.split("==", 1) if "==" in p else p.split("=", 1)
            terms.append(lambda l, k=k.strip(), v=v.strip(): l.get(k) == v)
        elif p.startswith("!"):
            terms.append(lambda l, k=p[1:].strip(): k not in l)
        else:
            terms.append(lambda l, k=p: k in l)
    return lambda labels: all(t(labels or {}) for t in terms)


def merge(dst, patch):
    """RFC 7386 JSON merge patch (null deletes; objects merge; the rest replaces)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(dst) if isinstance(dst, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(out.get(k), v)
    return out


def normalise_quantities(obj, under=False):
    """Container resources as the API server stores them: numbers become strings and
    whole milli-quantities lose their unit ("cpu: 1" -> "1", "2000m" -> "2")."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if under and k in ("limits", "requests") and isinstance(v, dict):
                for q, val in v.items():
                    if isinstance(val, (int, float)) and not isinstance(val, bool):
                        val = ("%d" % val) if float(val).is_integer() else repr(val)
                    if isinstance(val, str) and val.endswith("m") and val[:-1].isdigit() \
                            and int(val[:-1]) % 1000 == 0:
                        val = str(int(val[:-1]) // 1000)
                    v[q] = val
            else:
                normalise_quantities(v, under or k == "resources")
    elif isinstance(obj, list):
        for v in obj:
            normalise_quantities(v, under)


def spec_part(obj):
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Store:
    def __init__(self, history, bookmark_interval, gc_delay, state=None):
        self.lock = threading.Condition()
        self.rv = 100
        self.objects = {}  # (res, ns, name) -> object
        self.state = state
        if state and os.path.exists(state):
            with open(state) as f:
                saved = json.load(f)
            self.rv = saved["rv"] + 1000  # restarted: every old resourceVersion is too old
            self.objects = {tuple(k): o for k, o in saved["objects"]}
        self.history = []  # (rv, type, res, obj)
        self.max_history = history
        self.watchers = []
        self.bookmark_interval = bookmark_interval
        self.gc_delay = gc_delay
        self.deploy_mode, self.deploy_delay = "instant", 0.0
        self.fail_code, self.fail_count, self.fail_only_watch = 0, 0, False
        self.conflict_count, self.fault_agent = 0, ""
        self.requests = []
        self.epoch = 0  # bumped by drop_watches / wipe_history
        self.token = None  # required bearer token, if any

    # ---- writes (self.lock held) ----
    def bump(self):
        self.rv += 1
        return str(self.rv)

    def save(self):
        if not self.state:
            return
        tmp = self.state + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"rv": self.rv, "objects": [[list(k), o] for k, o in self.objects.items()]},
                      f)
        os.replace(tmp, self.state)

    def record(self, etype, res, obj):
        self.save()  # before the answer: an acknowledged write survives a SIGKILL
        self.history.append((self.rv, etype, res, copy.deepcopy(obj)))
        if len(self.history) > self.max_history:
            del self.history[: len(self.history) - self.max_history]
        self.lock.notify_all()

    def oldest_rv(self):
        return self.history[0][0] if self.history else self.rv

    def create(self, res, ns, obj, api_version):
        name = obj.get("metadata", {}).get("name")
        if not name:
            raise ApiError(422, "Invalid", "metadata.name: Required value")
        key = (res, ns, name)
        if key in self.objects:
            raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (res, name))
        obj = copy.deepcopy(obj)
        if res not in CUSTOM:
            normalise_quantities(obj)
        obj.setdefault("apiVersion", api_version)
        obj.setdefault("kind", KINDS.get(res, res))
        md = obj.setdefault("metadata", {})
        if ns:
            md["namespace"] = ns
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = now_rfc3339()
        md["generation"] = 1
        md["resourceVersion"] = self.bump()
        if res in STATUS_SUBRESOURCE:
            obj.pop("status", None)
        self.objects[key] = obj
        self.record("ADDED", res, obj)
        self.after_write(res, key)
        return obj

    def update(self, res, key, new, status_only, check_rv=True):
        old = self.objects.get(key)
        if old is None:
            raise ApiError(404, "NotFound", '%s "%s" not found' % (res, key[2]))
        new_md = new.get("metadata", {})
        rv = new_md.get("resourceVersion")
        if check_rv:
            if not rv and res in CUSTOM and not status_only:
                raise ApiError(422, "Invalid", "metadata.resourceVersion: Invalid value: 0x0: "
                               "must be specified for an update")
            if rv and rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", 'Operation cannot be fulfilled on %s "%s": the '
                               "object has been modified; please apply your changes to the "
                               "latest version and try again" % (res, key[2]))
        obj = copy.deepcopy(old)
        if status_only:
            obj["status"] = copy.deepcopy(new.get("status"))
            if obj["status"] is None:
                obj.pop("status")
        else:
            keep_status = old.get("status")
            obj = copy.deepcopy(new)
            if res not in CUSTOM:
                normalise_quantities(obj)
            md = obj.setdefault("metadata", {})
            for k in ("uid", "creationTimestamp", "generation", "namespace", "name",
                      "deletionTimestamp"):
                if k in old["metadata"]:
                    md[k] = old["metadata"][k]
            obj.setdefault("apiVersion", old.get("apiVersion"))
            obj.setdefault("kind", old.get("kind"))
            if res in STATUS_SUBRESOURCE:
                obj.pop("status", None)
                if keep_status is not None:
                    obj["status"] = keep_status
            if spec_part(obj) != spec_part(old):
                md["generation"] = old["metadata"].get("generation", 1) + 1
        if obj == old:
            return old  # a no-op write changes nothing, not even the resourceVersion
        obj["metadata"]["resourceVersion"] = self.bump()
        self.objects[key] = obj
        self.record("MODIFIED", res, obj)
        if not obj["metadata"].get("finalizers") and obj["metadata"].get("deletionTimestamp"):
            self.remove(res, key)
        else:
            self.after_write(res, key)
        return obj

    def remove(self, res, key):
        obj = self.objects.pop(key)
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = self.bump()
        self.record("DELETED", res, obj)
        if self.gc_delay >= 0:
            threading.Timer(self.gc_delay, self.collect_garbage).start()
        return obj

    def delete(self, res, key):
        obj = self.objects.get(key)
        if obj is None:
            raise ApiError(404, "NotFound", '%s "%s" not found' % (res, key[2]))
        if obj["metadata"].get("finalizers"):
            if not obj["metadata"].get("deletionTimestamp"):
                new = copy.deepcopy(obj)
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
                new["metadata"]["resourceVersion"] = self.bump()
                self.objects[key] = new
                self.record("MODIFIED", res, new)
                return new
            return obj
        return self.remove(res, key)

    def collect_garbage(self):
        """kube-controller-manager's garbage collector: dependents whose controlling
        owner's uid no longer exists are deleted (background propagation)."""
        with self.lock:
            uids = {o["metadata"]["uid"] for o in self.objects.values()}
            for key, obj in list(self.objects.items()):
                refs = obj["metadata"].get("ownerReferences") or []
                if refs and all(r.get("uid") not in uids for r in refs):
                    if key in self.objects:
                        self.remove(key[0], key)

    def after_write(self, res, key):
        if res != "deployments":
            return
        obj = self.objects[key]
        gen = obj["metadata"]["generation"]
        if (obj.get("status") or {}).get("observedGeneration") == gen:
            return
        if self.deploy_mode == "delayed":
            threading.Timer(self.deploy_delay, self.roll, args=(key, gen)).start()
        else:
            self.roll(key, gen, locked=True)

    def roll(self, key, gen, locked=False):
        """Deployment status as the deployment controller would write it."""
        if not locked:
            with self.lock:
                return self.roll(key, gen, locked=True)
        obj = self.objects.get(key)
        if obj is None or obj["metadata"]["generation"] != gen:
            return None
        n = obj.get("spec", {}).get("replicas", 1)
        stuck = self.deploy_mode == "stuck"
        ready = 0 if stuck else n
        t = now_rfc3339()
        status = {"observedGeneration": gen, "replicas": n, "updatedReplicas": n,
                  "readyReplicas": ready, "availableReplicas": ready,
                  "conditions": [
                      {"type": "Available", "status": "False" if stuck and n else "True",
                       "reason": "MinimumReplicasUnavailable" if stuck and n
                       else "MinimumReplicasAvailable",
                       "lastTransitionTime": t, "lastUpdateTime": t},
                      {"type": "Progressing", "status": "True",
                       "reason": "ReplicaSetUpdated" if stuck else "NewReplicaSetAvailable",
                       "lastTransitionTime": t, "lastUpdateTime": t}]}
        if stuck and n:
            status["unavailableReplicas"] = n
        if not ready:
            status.pop("readyReplicas")
            status.pop("availableReplicas")
        return self.update("deployments", key, {"status": status}, True, check_rv=False)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    store = None

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle holds the
        # body until the client's delayed ACK: 40 ms on every kept-alive request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *a):
        pass

    # ---- plumbing ----
    def send_json(self, code, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return {}
        try:
            if "yaml" in (self.headers.get("Content-Type") or ""):
                return yaml.safe_load(raw) or {}
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as e:
            raise ApiError(400, "BadRequest", "cannot decode the body: %s" % e)

    def route(self):
        """(res, api_version, ns, name, sub) from the path, or None."""
        u = urllib.parse.urlparse(self.path)
        parts = [p for p in u.path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            api_version, rest = "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            api_version, rest = "%s/%s" % (parts[1], parts[2]), parts[3:]
        else:
            return None
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces":  # namespaces/NS/PLURAL[/NAME[/SUB]]
            ns, rest = rest[1], rest[2:]
        if not rest:
            return None
        res = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        return res, api_version, ns, name, sub, urllib.parse.parse_qs(u.query)

    def handle_any(self):
        st = self.store
        u = urllib.parse.urlparse(self.path)
        try:
            if u.path.startswith("/fake/"):
                return self.fake(u.path)
            with st.lock:
                st.requests.append({"method": self.command, "path": u.path, "query": u.query,
                                    "agent": self.headers.get("User-Agent") or ""})
                if st.token and self.headers.get("Authorization") != "Bearer " + st.token:
                    raise ApiError(401, "Unauthorized", "Unauthorized")
                is_watch = "watch=1" in u.query or "watch=true" in u.query
                targeted = st.fault_agent in (self.headers.get("User-Agent") or "")
                if st.fail_count > 0 and targeted and (is_watch or not st.fail_only_watch):
                    st.fail_count -= 1
                    code = st.fail_code
                    raise ApiError(code, "TooManyRequests" if code == 429 else "InternalError",
                                   "injected failure", {"Retry-After": "1"} if code == 429 else None)
            r = self.route()
            if r is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            res, api_version, ns, name, sub, q = r
            if self.command == "GET" and name is None:
                if q.get("watch", ["0"])[0] in ("1", "true"):
                    return self.watch(res, ns, q)
                return self.list(res, api_version, ns, q)
            body = self.body() if self.command in ("POST", "PUT", "PATCH") else {}
            with st.lock:
                key = (res, ns, name)
                if self.command == "GET":
                    obj = st.objects.get(key)
                    if obj is None:
                        raise ApiError(404, "NotFound", '%s "%s" not found' % (res, name))
                    return self.send_json(200, obj)
                if self.command == "POST" and name is None:
                    return self.send_json(201, st.create(res, ns, body, api_version))
                if self.command == "PUT" and name:
                    if (st.conflict_count > 0 and key in st.objects
                            and st.fault_agent in (self.headers.get("User-Agent") or "")):
                        st.conflict_count -= 1
                        touched = copy.deepcopy(st.objects[key])
                        ann = touched["metadata"].setdefault("annotations", {})
                        ann["fake.pdsim.io/touched"] = str(int(ann.get("fake.pdsim.io/touched",
                                                                       "0")) + 1)
                        st.update(res, key, touched, False, check_rv=False)
                    return self.send_json(200, st.update(res, key, body, sub == "status"))
                if self.command == "PATCH" and name:
                    return self.patch(res, api_version, ns, key, body, sub == "status", q)
                if self.command == "DELETE" and name:
                    return self.send_json(200, st.delete(res, key))
            raise ApiError(405, "MethodNotAllowed", "method not allowed")
        except ApiError as e:
            self.send_json(e.code, e.status(), e.headers)

    def patch(self, res, api_version, ns, key, body, status_only, q):
        st = self.store
        ctype = self.headers.get("Content-Type") or ""
        old = st.objects.get(key)
        if "apply-patch" in ctype:
            if not q.get("fieldManager"):
                raise ApiError(422, "Invalid", "fieldManager: Required value: is required for "
                               "apply patch")
            if old is None:
                if status_only:
                    raise ApiError(404, "NotFound", '%s "%s" not found' % (res, key[2]))
                body.setdefault("metadata", {})["name"] = key[2]
                return self.send_json(201, st.create(res, ns, body, api_version))
            merged = merge(old, {k: v for k, v in body.items()})
        elif "merge-patch" in ctype:
            if old is None:
                raise ApiError(404, "NotFound", '%s "%s" not found' % (res, key[2]))
            merged = merge(old, body)
        else:
            raise ApiError(415, "UnsupportedMediaType", "unsupported patch type %s" % ctype)
        if status_only:
            merged = {"status": merged.get("status")}
        else:
            merged.setdefault("metadata", {})["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self.send_json(200, st.update(res, key, merged, status_only, check_rv=False))

    def matches(self, obj, res, ns, sel, r):
        return r == res and (ns is None or obj["metadata"].get("namespace") == ns) and \
            sel(obj["metadata"].get("labels"))

    def list(self, res, api_version, ns, q):
        st = self.store
        sel = parse_selector(q.get("labelSelector", [""])[0])
        with st.lock:
            items = [copy.deepcopy(o) for (r, n, _), o in sorted(st.objects.items())
                     if self.matches(o, res, ns, sel, r)]
            rv = str(st.rv)
        if res not in CUSTOM:  # as the real server: built-in list items carry no kind
            for o in items:
                o.pop("apiVersion", None)
                o.pop("kind", None)
        self.send_json(200, {"kind": KINDS.get(res, res) + "List", "apiVersion": api_version,
                             "metadata": {"resourceVersion": rv}, "items": items})

    def write_chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, res, ns, q):
        st = self.store
        sel = parse_selector(q.get("labelSelector", [""])[0])
        since = q.get("resourceVersion", [""])[0]
        timeout = float(q.get("timeoutSeconds", ["1800"])[0])
        bookmarks = q.get("allowWatchBookmarks", ["false"])[0] == "true"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        pending = []
        with st.lock:  # subscribe and snapshot under one lock
            epoch = st.epoch
            if since in ("", "0"):
                for (r, n, _), o in sorted(st.objects.items()):
                    if self.matches(o, res, ns, sel, r):
                        pending.append(("ADDED", copy.deepcopy(o)))
                seen = st.rv
            elif int(since) < st.oldest_rv() - 1:
                err = ApiError(410, "Expired", "too old resource version: %s (%d)"
                               % (since, st.oldest_rv() - 1)).status()
                pending.append(("ERROR", err))
                seen = None
            else:
                seen = int(since)
        deadline = time.monotonic() + timeout
        next_bookmark = time.monotonic() + st.bookmark_interval
        try:
            for etype, obj in pending:
                self.write_chunk(json.dumps({"type": etype, "object": obj}).encode() + b"\n")
            while seen is not None and time.monotonic() < deadline:
                with st.lock:
                    if st.epoch != epoch:
                        break  # dropped by a fault: the connection just ends
                    if seen < st.oldest_rv() - 1:  # fell behind the history: 410
                        err = ApiError(410, "Expired", "too old resource version").status()
                        events, seen = [("ERROR", err)], None
                    else:
                        start = bisect.bisect_right(st.history, seen, key=lambda e: e[0])
                        events = [(t, o) for (v, t, r, o) in st.history[start:]
                                  if self.matches(o, res, ns, sel, r)]
                        seen = st.rv
                    if not events:
                        st.lock.wait(min(0.1, max(0.0, deadline - time.monotonic())))
                    cur = st.rv
                for etype, obj in events:
                    self.write_chunk(json.dumps({"type": etype, "object": obj}).encode() + b"\n")
                if bookmarks and time.monotonic() >= next_bookmark and seen is not None:
                    bm = {"kind": KINDS.get(res, res), "apiVersion": "v1",
                          "metadata": {"resourceVersion": str(cur)}}
                    self.write_chunk(json.dumps({"type": "BOOKMARK", "object": bm}).encode()
                                     + b"\n")
                    next_bookmark = time.monotonic() + st.bookmark_interval
            if st.epoch == epoch:
                self.wfile.write(b"0\r\n\r\n")  # a clean end
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def fake(self, path):
        st = self.store
        if path == "/fake/requests":
            with st.lock:
                return self.send_json(200, list(st.requests))
        body = self.body()
        with st.lock:
            if path == "/fake/deployments":
                st.deploy_mode = body.get("mode", "instant")
                st.deploy_delay = float(body.get("delay", 0))
            elif path == "/fake/token":
                st.token = body.get("token")
            elif path == "/fake/faults":
                if "fail" in body:
                    st.fail_code = int(body["fail"].get("code", 500))
                    st.fail_count = int(body["fail"].get("count", 1))
                    st.fail_only_watch = bool(body["fail"].get("only_watch", False))
                st.conflict_count = int(body.get("conflict", st.conflict_count))
                st.fault_agent = body.get("agent", "")
                if body.get("drop_watches"):
                    st.epoch += 1
                if body.get("wipe_history"):
                    st.epoch += 1
                    st.history = []
                    st.rv += 1000  # a restarted server: every old RV is too old
                st.lock.notify_all()
            else:
                raise ApiError(404, "NotFound", "no such fake hook")
        self.send_json(200, {"ok": True})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the default 5 resets connections under a burst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--history", type=int, default=1000)
    ap.add_argument("--bookmark-interval", type=float, default=1.0)
    ap.add_argument("--gc-delay", type=float, default=0.2)
    ap.add_argument("--token", default=None)
    ap.add_argument("--state", default=None)
    a = ap.parse_args()
    Handler.store = Store(a.history, a.bookmark_interval, a.gc_delay, a.state)
    with Handler.store.lock:  # the deployment controller resyncs what it had not rolled out
        for key in [k for k in Handler.store.objects if k[0] == "deployments"]:
            Handler.store.after_write("deployments", key)
    Handler.store.token = a.token
    srv = Server(("127.0.0.1", a.port), Handler)
    print(json.dumps({"port": srv.server_address[1]}), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
