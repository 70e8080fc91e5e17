#!/usr/bin/env python3
"""smtp_trickle.py - an SMTP server that stalls the TLS handshake.

    smtp_trickle.py ADDRESS PORT READY-FILE SECONDS-PER-BYTE

A correct greeting, EHLO (offering STARTTLS) and "220" to STARTTLS, then,
once the client's ClientHello has come, the first bytes of a TLS
ServerHello record one at a time, SECONDS-PER-BYTE apart: a client whose
timeouts start again with every byte read waits as long as this server
cares to go on.  What no real server does on purpose, hence a script.
Serves connections one after another; each is bounded (60 bytes), and the
server stops after 120 s.  READY-FILE is created once it listens.
"""
import socket
import sys
import time

# A TLS 1.2 handshake record header and the start of a ServerHello.
HELLO = bytes([0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00, 0x76, 0x03, 0x03]) + \
    bytes(range(1, 50))


def line(f):
    return f.readline(1000)


def serve(conn, pace):
    f = conn.makefile("rb")
    conn.sendall(b"220 trickle.example.test ESMTP\r\n")
    if not line(f):
        return
    conn.sendall(b"250-trickle.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
    if not line(f):
        return
    conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
    if not conn.recv(4096):
        return
    for b in HELLO:
        conn.sendall(bytes([b]))
        time.sleep(pace)


def main():
    addr, port, ready, pace = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(4)
    srv.settimeout(1)
    open(ready, "w").close()
    end = time.monotonic() + 120
    while time.monotonic() < end:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        try:
            serve(conn, pace)
        except OSError:
            pass
        finally:
            conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
