#!/usr/bin/env python3
"""ctlclient.py - a control-socket client that misbehaves on purpose.

    ctlclient.py SOCKET MODE [DATA]

MODE:
  send      send DATA (Python escapes allowed: "sta\\x00tus\\n") at once
  dribble   send DATA one byte every 1.5 s (stops once the server answers)
  silent    send nothing
  listen    a "daemon" that accepts on SOCKET and never answers (for
            commands that must be caught waiting); runs until killed

Then read until the server closes (at most 20 s) and print one line:
"MS ANSWER-FIRST-LINE" (MS: milliseconds from connecting to the end;
ANSWER "-" when nothing came).  Everything is bounded in time.
"""
import os
import select
import socket
import sys
import time


def main():
    path, mode = sys.argv[1], sys.argv[2]
    data = sys.argv[3].encode().decode("unicode_escape").encode("latin-1") \
        if len(sys.argv) > 3 else b""
    if mode == "listen":
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        srv.bind(path)
        srv.listen(8)
        held = []
        end = time.monotonic() + 120
        while time.monotonic() < end:
            r, _, _ = select.select([srv], [], [], 1)
            if r:
                held.append(srv.accept()[0])
        return 0
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    t0 = time.monotonic()
    s.connect(path)
    if mode == "send":
        s.sendall(data)
    elif mode == "dribble":
        for i, b in enumerate(data):
            if i > 0:
                r, _, _ = select.select([s], [], [], 1.5)
                if r:
                    break
            try:
                s.send(bytes([b]))
            except OSError:
                break
    got = b""
    end = t0 + 20
    while time.monotonic() < end:
        r, _, _ = select.select([s], [], [], 0.5)
        if not r:
            continue
        try:
            chunk = s.recv(4096)
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += chunk
    ms = int((time.monotonic() - t0) * 1000)
    first = got.split(b"\n", 1)[0].decode("utf-8", "replace") or "-"
    print(ms, first, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
