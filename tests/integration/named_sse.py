"""Event streams with named events ("event: NAME" then "data: JSON"), as the Responses and
Anthropic Messages APIs send them. Standard library only."""

import http.client
import json
import time


def parse_frames(raw):
    """Split an SSE body into (event name or None, data string) frames, strictly: every
    frame ends with a blank line and holds at most one event line and one data line."""
    text = raw.decode("utf-8")
    assert text.endswith("\n\n") or text == "", "stream does not end with a blank line: %r" % (
        text[-80:],)
    frames = []
    for block in text.split("\n\n")[:-1]:
        name, data = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                assert name is None, block
                name = line[len("event: "):]
            elif line.startswith("data: "):
                assert data is None, block
                data = line[len("data: "):]
            else:
                raise AssertionError("unexpected SSE line %r" % line)
        assert data is not None, block
        frames.append((name, data))
    return frames


def named_events(port, path, body, headers=None, timeout=30):
    """POST a streaming request. Returns (status, lower-case headers, [(name, json, t)]) where
    t is when the frame's bytes arrived (monotonic), and every frame's event line matches its
    data's "type". A non-200 answer comes back as (status, headers, parsed JSON body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    c.request("POST", path, body=json.dumps(body), headers=h)
    r = c.getresponse()
    hdrs = dict((k.lower(), v) for k, v in r.getheaders())
    if r.status != 200:
        data = r.read()
        c.close()
        return r.status, hdrs, json.loads(data)
    events, buf = [], b""
    while True:
        chunk = r.read1(65536)
        if not chunk:
            break
        now = time.monotonic()
        buf += chunk
        while b"\n\n" in buf:
            frame, buf = buf.split(b"\n\n", 1)
            for name, data in parse_frames(frame + b"\n\n"):
                j = json.loads(data)
                assert name == j.get("type"), (name, data)
                events.append((name, j, now))
    c.close()
    assert buf == b"", "bytes after the last frame: %r" % buf
    return r.status, hdrs, events
