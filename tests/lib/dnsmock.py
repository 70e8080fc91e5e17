#!/usr/bin/python3
"""dnsmock.py - a scripted authoritative DNS server for the replies BIND never
sends: wrong message ID, wrong source address, bad TSIG MAC, TSIG time
outside the fudge, BADTIME, truncation, SERVFAIL, silence (and plain
REFUSED / NOTAUTH / NOTZONE).  Queries are always answered correctly from a
small in-memory zone; UPDATE messages get the misbehaviour named in the mode
file, which is read again for every message, so one process serves a whole
test.  Every UPDATE received is logged as one line "UPDATE <udp|tcp> <mode>
<applied|ignored>".  Test use only; needs Debian's python3-dnspython.

usage: dnsmock.py ADDR ALT_ADDR ZONE KEYFILE MODEFILE LOGFILE READYFILE LIFETIME
"""
import re
import socket
import struct
import sys
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.update

addr, alt, zone_text, keyfile, modefile, logfile, readyfile, lifetime = sys.argv[1:9]
ZONE = dns.name.from_text(zone_text)
key_text = open(keyfile).read()
KEYNAME = dns.name.from_text(re.search(r'key\s+"?([^"\s{]+)"?', key_text).group(1))
ALG = dns.name.from_text(re.search(r"algorithm\s+([\w-]+)", key_text).group(1))
SECRET = re.search(r'secret\s+"([^"]+)"', key_text).group(1)
KEY = dns.tsig.Key(KEYNAME, SECRET, ALG)
WRONG = dns.tsig.Key(KEYNAME, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", ALG)
KEYRING = {KEYNAME: KEY}

lock = threading.Lock()
serial = [1]
tlsa = {}  # owner name -> list of rdata


def mode():
    try:
        return open(modefile).read().strip()
    except OSError:
        return "ok"


def log(line):
    with lock, open(logfile, "a") as f:
        f.write(line + "\n")


class FakeTime:
    """Stands in for the time module inside dnspython while signing, so a
    reply can carry whatever signing time a case needs."""

    def __init__(self, t):
        self.t = t

    def time(self):
        return self.t


def sign_at(msg, t):
    real = dns.message.time
    dns.message.time = FakeTime(t)
    try:
        return msg.to_wire()
    finally:
        dns.message.time = real


def soa_rrset():
    return dns.rrset.from_text(ZONE, 5, "IN", "SOA",
                               "ns.%s hostmaster.%s %d 10 2 600 5" % (ZONE, ZONE, serial[0]))


def answer_query(q):
    r = dns.message.make_response(q)
    r.flags |= dns.flags.AA
    qn, qt = q.question[0].name, q.question[0].rdtype
    with lock:
        if not qn.is_subdomain(ZONE):
            r.set_rcode(dns.rcode.REFUSED)
        elif qt == dns.rdatatype.SOA and qn == ZONE:
            r.answer.append(soa_rrset())
        elif qt == dns.rdatatype.TLSA and tlsa.get(qn):
            rs = dns.rrset.RRset(qn, dns.rdataclass.IN, dns.rdatatype.TLSA)
            for rd in tlsa[qn]:
                rs.add(rd, 5)
            r.answer.append(rs)
        else:
            r.authority.append(soa_rrset())
    return r.to_wire()


def apply_update(u):
    with lock:
        for rs in u.update:
            if rs.rdtype != dns.rdatatype.TLSA:
                continue
            cur = tlsa.setdefault(rs.name, [])
            for rd in rs:
                if rs.rdclass == dns.rdataclass.IN and rd not in cur:
                    cur.append(rd)
                elif rs.rdclass == dns.rdataclass.NONE and rd in cur:
                    cur.remove(rd)
        serial[0] += 1


def answer_update(u, transport):
    """Returns (wire or None, send from the alternative address)."""
    m = mode()
    r = dns.message.make_response(u)
    now = int(time.time())
    applied = False
    alt_source = False
    if m == "ok" or (m == "truncate" and transport == "tcp"):
        apply_update(u)
        applied = True
        wire = r.to_wire()
    elif m == "truncate":
        r.flags |= dns.flags.TC
        wire = r.to_wire()
    elif m == "wrong-id":
        wire = bytearray(r.to_wire())
        wire[0] ^= 0x5A
        wire = bytes(wire)
    elif m == "wrong-source":
        wire = r.to_wire()
        alt_source = True
    elif m == "bad-mac":
        r.use_tsig(WRONG, original_id=u.id)
        r.request_mac = u.mac
        wire = r.to_wire()
    elif m == "bad-time":
        wire = sign_at(r, now - 1000)
    elif m == "badtime":
        # RFC 8945 5.2.3: NOTAUTH/BADTIME, signed, with the request's
        # signing time and the server's clock in Other Data.
        server = now + 1000
        r.set_rcode(dns.rcode.NOTAUTH)
        r.use_tsig(KEY, original_id=u.id, tsig_error=dns.rcode.BADTIME,
                   other_data=struct.pack("!HI", server >> 32, server & 0xFFFFFFFF))
        r.request_mac = u.mac
        wire = sign_at(r, u.tsig[0].time_signed)
    elif m in ("servfail", "refused", "notauth", "notzone"):
        r.set_rcode(dns.rcode.from_text(m.upper()))
        wire = r.to_wire()
    else:  # silence
        wire = None
    log("UPDATE %s %s %s" % (transport, m, "applied" if applied else "ignored"))
    return wire, alt_source


def handle(wire, transport):
    try:
        q = dns.message.from_wire(wire, keyring=KEYRING)
    except Exception as e:  # a message this mock cannot verify
        log("BAD %s %s" % (transport, e))
        return None, False
    if q.opcode() == dns.opcode.UPDATE:
        return answer_update(q, transport)
    return answer_query(q), False


def udp_loop(sock, alt_sock):
    while True:
        wire, peer = sock.recvfrom(65535)
        out, from_alt = handle(wire, "udp")
        if out is not None:
            (alt_sock if from_alt else sock).sendto(out, peer)


def tcp_conn(c):
    with c:
        while True:
            hdr = c.recv(2)
            if len(hdr) < 2:
                return
            n = struct.unpack("!H", hdr)[0]
            wire = b""
            while len(wire) < n:
                part = c.recv(n - len(wire))
                if not part:
                    return
                wire += part
            out, _ = handle(wire, "tcp")
            if out is not None:
                c.sendall(struct.pack("!H", len(out)) + out)


def tcp_loop(lsock):
    while True:
        c, _ = lsock.accept()
        threading.Thread(target=tcp_conn, args=(c,), daemon=True).start()


u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((addr, 53))
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
a.bind((alt, 53))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind((addr, 53))
t.listen(16)
threading.Thread(target=udp_loop, args=(u, a), daemon=True).start()
threading.Thread(target=tcp_loop, args=(t,), daemon=True).start()
open(readyfile, "w").write("ready\n")
# Bounded: the mock ends by itself even if a test forgets it.
time.sleep(float(lifetime))
