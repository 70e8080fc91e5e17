#!/usr/bin/python3
"""bench/dns_floor.py - the floor of bench/sections/30-dns.sh's 1,000-record case.

  dns_floor.py [--with-reads] KEYFILE ZONE UPDATE-SERVER TTL HEX1,HEX2 NAMES-FILE SERVER...

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

With --with-reads, the floor also does the reads pftls-roll's contract
(SPEC) requires and the plain floor skips, so the benchmark can tell how
much of the gap to the floor they are:
  (a) before the UPDATE, the state read: every owner's TLSA RRset and the
      zone's SOA asked of UPDATE-SERVER, TSIG-signed (DO bit, no RD, as
      pftls-roll's read_state asks them), pipelined over UDP, at most 128
      in flight; each reply must be for a query in flight, NOERROR or
      NXDOMAIN, authoritative (AA bit) and carry a TSIG RR.  The UPDATE then
      carries the compare-and-swap prerequisite of every owner, here "RRset
      does not exist" (class NONE type TLSA: the bench resets to no records
      before each run);
  (b) every read of UPDATE-SERVER TSIG-signed: its verifying read too (the
      same minimal checks plus the digest checks above), and its SOA polls
      (signed as they are sent, parsed and verified by dnspython like the
      unsigned ones); the other servers are asked unsigned, as without the
      option.
The signed queries are built (and so their TSIG time set; the fudge is
300 s) right before the clock starts; the timing starts before the state
read.  Server-side costs are counted in full (BIND verifies and signs every
message); client-side checks stay minimal as in the rest of the floor: a
reply's TSIG RR is only looked for (its type and class octets, and an
ARCOUNT covering it and the OPT RR), its MAC is not verified, and nothing is
parsed.  The breakdown adds the reads' time ("reads 0.xxx s").
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


def serial(server, zone, tsig=None):
    """server's SOA serial for zone, or None; the query TSIG-signed when
    tsig is (keyring, keyname, algorithm) (dnspython then verifies the
    reply's MAC, as it parses the reply)."""
    q = dns.message.make_query(zone, dns.rdatatype.SOA)
    q.flags &= ~dns.flags.RD
    if tsig:
        q.use_tsig(tsig[0], keyname=tsig[1], algorithm=tsig[2])
    try:
        r = dns.query.udp(q, server, timeout=0.5)
    except Exception:
        return None
    for rr in r.answer:
        if rr.rdtype == dns.rdatatype.SOA:
            return rr[0].serial
    return None


def prebuilt_queries(names, rdtype=dns.rdatatype.TLSA, tsig=None, first_id=1):
    """Query wires (rdtype, default TLSA, DO bit, no RD) for every name,
    id = first_id + index; TSIG-signed (signed now: the wires carry this
    moment as their time) when tsig is (keyring, keyname, algorithm)."""
    out = []
    for i, n in enumerate(names):
        q = dns.message.make_query(n, rdtype, want_dnssec=True, id=first_id + i)
        q.flags &= ~dns.flags.RD
        if tsig:
            q.use_tsig(tsig[0], keyname=tsig[1], algorithm=tsig[2])
        out.append(q.to_wire())
    return out


# A TSIG RR's type (250) and class (ANY) octets.
TSIG_TYPE_CLASS = struct.pack("!HH", dns.rdatatype.TSIG, dns.rdataclass.ANY)


def signed_reply_ok(m):
    """The minimal checks of a reply to a signed query: authoritative (AA),
    and it carries a TSIG RR (the queries have an OPT RR too, so ARCOUNT >=
    2, and a TSIG's type and class octets in it).  The MAC is not verified
    (the floor leaves client-side checks minimal); BIND answers a query
    whose TSIG it rejects with NOTAUTH, which the rcode checks catch."""
    flags, ar = struct.unpack("!H", m[2:4])[0], struct.unpack("!H", m[10:12])[0]
    return bool(flags & 0x0400) and ar >= 2 and TSIG_TYPE_CLASS in m[12:]


def pipelined(server, queries, good):
    """Send every query to server, pipelined over one UDP socket, at most 128
    in flight (lost ones asked again, for 5 s at most); True when every
    reply (the query ID is its index + 1) passes good(reply wire)."""
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
            qid = struct.unpack("!H", m[:2])[0]
            if qid not in pending:
                continue
            pending.discard(qid)
            if not good(m):
                return False
            ok += 1
    finally:
        s.close()
    return ok == len(queries)


def read_state(server, queries):
    """The state read: True when server answers every query NOERROR or
    NXDOMAIN and each reply passes signed_reply_ok."""
    rcode_ok = lambda m: struct.unpack("!H", m[2:4])[0] & 0xF in (dns.rcode.NOERROR,
                                                                  dns.rcode.NXDOMAIN)
    return pipelined(server, queries, lambda m: rcode_ok(m) and signed_reply_ok(m))


def verify(server, queries, digests, signed=False):
    """True when server answers every query NOERROR with both record digests
    in the answer and at least 3 answer RRs (2 TLSA + RRSIG), and, when
    signed (the queries are TSIG-signed), every reply passes signed_reply_ok.
    Checks the wire bytes (header fields, the digests' octets), no full
    parse."""
    def good(m):
        flags, _, an = struct.unpack("!HHH", m[2:8])
        return (flags & 0xF == 0 and an >= 3 and all(d in m for d in digests) and
                (not signed or signed_reply_ok(m)))
    return pipelined(server, queries, good)


def follow(server, zone, before, queries, digests, t_end, moved, done, tsig=None):
    """Poll server's SOA every 0.1 s; once the serial moved, verify; again at
    the next poll until it verifies or t_end passes.  With tsig (keyring,
    keyname, algorithm; queries are then TSIG-signed too), the SOA queries
    are signed as well and verify checks signed_reply_ok."""
    nxt = time.time()
    while time.time() < t_end:
        sn = serial(server, zone, tsig)
        if sn is not None and sn != before:
            moved.setdefault(server, time.time())
            if verify(server, queries, digests, tsig is not None):
                done[server] = time.time()
                return
        nxt += 0.1
        d = nxt - time.time()
        if d > 0:
            time.sleep(d)
        else:
            nxt = time.time()


def main():
    args = sys.argv[1:]
    with_reads = bool(args) and args[0] == "--with-reads"
    if with_reads:
        args = args[1:]
    if len(args) < 7:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    keyfile, zone, upd, ttl, hexes, names_file = args[:6]
    servers = args[6:]
    ttl = int(ttl)
    kname, kalg, ksecret = read_key(keyfile)
    keyring = dns.tsigkeyring.from_text({kname: (kalg, ksecret)})
    names = [l.strip() for l in open(names_file) if l.strip()]
    hexes = [h.upper() for h in hexes.split(",")]
    u = dns.update.UpdateMessage(zone, keyring=keyring, keyname=kname, keyalgorithm=kalg)
    for n in names:
        if with_reads:
            # The compare-and-swap prerequisite: the RRset read (none) is
            # still the one served.
            u.absent(dns.name.from_text(n), dns.rdatatype.TLSA)
        for h in hexes:
            u.add(dns.name.from_text(n), ttl, dns.rdatatype.TLSA, "3 1 1 %s" % h)
    wire = u.to_wire()
    if len(wire) > 65535:
        print("dns_floor: update of %d octets does not fit" % len(wire), file=sys.stderr)
        return 1
    queries = prebuilt_queries(names)
    digests = [bytes.fromhex(h) for h in hexes]
    before = {s: serial(s, zone) for s in servers}
    reads, signed_queries = [], None
    tsig = (keyring, kname, kalg)
    if with_reads:
        # Signed last, right before the clock starts: their TSIG time is
        # fresh.  The state read: every owner's TLSA, then the zone's SOA.
        reads = prebuilt_queries(names, tsig=tsig)
        reads += prebuilt_queries([zone], dns.rdatatype.SOA, tsig, len(reads) + 1)
        signed_queries = prebuilt_queries(names, tsig=tsig)
    t0 = time.time()
    if with_reads and not read_state(upd, reads):
        print("dns_floor: the state read from %s failed" % upd, file=sys.stderr)
        return 1
    t_read = time.time()
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
    signed = lambda s: with_reads and s == upd  # the update server's reads are signed
    th = [threading.Thread(target=follow, args=(
        s, zone, before[s], signed_queries if signed(s) else queries, digests, t0 + 30,
        moved, done, tsig if signed(s) else None)) for s in servers]
    for t in th:
        t.start()
    for t in th:
        t.join()
    if len(done) < len(servers):
        print("dns_floor: not every server serves every record after 30 s", file=sys.stderr)
        return 1
    t1 = max(done.values())
    print("dns_floor: %s%d octets; %sNOERROR after %.3f s; serial moved %s; verified %s" % (
        "with reads: " if with_reads else "", len(wire),
        "reads %.3f s; " % (t_read - t0) if with_reads else "", t_ack - t0,
        " ".join("%s %.3f" % (s, moved[s] - t0) for s in servers),
        " ".join("%s %.3f" % (s, done[s] - t0) for s in servers)), file=sys.stderr)
    print("%.6f" % (t1 - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
