#!/usr/bin/python3
"""bench/dns_floor.py - the floor of bench/sections/30-dns.sh's 1,000-record case.

  dns_floor.py KEYFILE ZONE UPDATE-SERVER TTL HEX1,HEX2 NAMES-FILE SERVER...

Builds, before any timing, ONE dynamic UPDATE adding "3 1 1 HEX1" and
"3 1 1 HEX2" at every owner in NAMES-FILE (one name a line), names compressed
(dnspython's renderer) and TSIG-signed with the tsig-keygen KEYFILE; reads
every SERVER's SOA serial.  Then, timed: sends the UPDATE over TCP to
UPDATE-SERVER, reads and checks the answer (NOERROR, TSIG verified), and
polls every SERVER (a thread each) every 0.1 s for its SOA serial; a
server whose serial moved is verified once (every owner asked with a
pre-built query, pipelined over UDP with the DO bit: NOERROR, both records'
digests and at least 3 answer RRs, 2 TLSA + RRSIG; asked again at the next
poll if not).  Prints the seconds from the send to the last server verified
and a breakdown on stderr.  Exit 1 when the update fails or 30 s pass.
"""
import re
import select
import socket
import struct
import sys
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.tsigkeyring
import dns.update


def read_key(path):
    text = open(path).read()
    name = re.search(r'key\s+"?([^"\s]+)"?\s*\{', text).group(1)
    alg = re.search(r'algorithm\s+"?([^";\s]+)"?\s*;', text).group(1)
    secret = re.search(r'secret\s+"([^"]+)"\s*;', text).group(1)
    return name, alg, secret


def serial(server, zone):
    q = dns.message.make_query(zone, dns.rdatatype.SOA)
    q.flags &= ~dns.flags.RD
    try:
        r = dns.query.udp(q, server, timeout=0.5)
    except Exception:
        return None
    for rr in r.answer:
        if rr.rdtype == dns.rdatatype.SOA:
            return rr[0].serial
    return None


def prebuilt_queries(names):
    """Query wires (TLSA, DO bit, no RD) for every name, id = index + 1."""
    out = []
    for i, n in enumerate(names):
        q = dns.message.make_query(n, dns.rdatatype.TLSA, want_dnssec=True, id=i + 1)
        q.flags &= ~dns.flags.RD
        out.append(q.to_wire())
    return out


def verify(server, queries, digests):
    """True when server answers every query NOERROR with both record digests
    in the answer and at least 3 answer RRs (2 TLSA + RRSIG).  Pipelined over
    one UDP socket, at most 128 queries in flight; checks the wire bytes
    (header fields, the digests' octets), no full parse."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.connect((server, 53))
    todo = list(range(len(queries)))
    pending = set()
    ok = 0
    deadline = time.time() + 5
    try:
        while (todo or pending) and time.time() < deadline:
            while todo and len(pending) < 128:
                i = todo.pop()
                s.send(queries[i])
                pending.add(i + 1)
            r, _, _ = select.select([s], [], [], 0.5)
            if not r:
                todo.extend(i - 1 for i in pending)  # lost: ask again
                pending.clear()
                continue
            m = s.recv(65535)
            qid, flags, _, an = struct.unpack("!HHHH", m[:8])
            if qid not in pending:
                continue
            pending.discard(qid)
            if flags & 0xF != 0 or an < 3 or not all(d in m for d in digests):
                return False
            ok += 1
    finally:
        s.close()
    return ok == len(queries)


def follow(server, zone, before, queries, digests, t_end, moved, done):
    """Poll server's SOA every 0.1 s; once the serial moved, verify; again at
    the next poll until it verifies or t_end passes."""
    nxt = time.time()
    while time.time() < t_end:
        sn = serial(server, zone)
        if sn is not None and sn != before:
            moved.setdefault(server, time.time())
            if verify(server, queries, digests):
                done[server] = time.time()
                return
        nxt += 0.1
        d = nxt - time.time()
        if d > 0:
            time.sleep(d)
        else:
            nxt = time.time()


def main():
    keyfile, zone, upd, ttl, hexes, names_file = sys.argv[1:7]
    servers = sys.argv[7:]
    ttl = int(ttl)
    kname, kalg, ksecret = read_key(keyfile)
    keyring = dns.tsigkeyring.from_text({kname: (kalg, ksecret)})
    names = [l.strip() for l in open(names_file) if l.strip()]
    hexes = [h.upper() for h in hexes.split(",")]
    u = dns.update.UpdateMessage(zone, keyring=keyring, keyname=kname, keyalgorithm=kalg)
    for n in names:
        for h in hexes:
            u.add(dns.name.from_text(n), ttl, dns.rdatatype.TLSA, "3 1 1 %s" % h)
    wire = u.to_wire()
    if len(wire) > 65535:
        print("dns_floor: update of %d octets does not fit" % len(wire), file=sys.stderr)
        return 1
    queries = prebuilt_queries(names)
    digests = [bytes.fromhex(h) for h in hexes]
    before = {s: serial(s, zone) for s in servers}
    t0 = time.time()
    c = socket.create_connection((upd, 53), timeout=10)
    c.sendall(struct.pack("!H", len(wire)) + wire)
    hdr = b""
    while len(hdr) < 2:
        hdr += c.recv(2 - len(hdr))
    ln = struct.unpack("!H", hdr)[0]
    resp = b""
    while len(resp) < ln:
        resp += c.recv(ln - len(resp))
    c.close()
    r = dns.message.from_wire(resp, keyring=keyring, request_mac=u.mac)
    t_ack = time.time()
    if r.rcode() != dns.rcode.NOERROR:
        print("dns_floor: update answered %s" % dns.rcode.to_text(r.rcode()), file=sys.stderr)
        return 1
    done, moved = {}, {}
    th = [threading.Thread(target=follow, args=(s, zone, before[s], queries, digests, t0 + 30,
                                                moved, done)) for s in servers]
    for t in th:
        t.start()
    for t in th:
        t.join()
    if len(done) < len(servers):
        print("dns_floor: not every server serves every record after 30 s", file=sys.stderr)
        return 1
    t1 = max(done.values())
    print("dns_floor: %d octets; NOERROR after %.3f s; serial moved %s; verified %s" % (
        len(wire), t_ack - t0,
        " ".join("%s %.3f" % (s, moved[s] - t0) for s in servers),
        " ".join("%s %.3f" % (s, done[s] - t0) for s in servers)), file=sys.stderr)
    print("%.6f" % (t1 - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
