#!/usr/bin/python3
"""bench/strace_dns.py - where the time of a DNS-heavy pftls-roll run goes.

  strace_dns.py FILE

FILE: `strace -f -tt -s 256 -xx -e trace=%network,%process,poll,write,read,...`
output.  Decodes every DNS message sent to port 53 (UDP sendto, or a write/
sendto on a TCP socket connected to port 53: 2-octet length first) into
opcode, QTYPE and server, and prints the run as segments of consecutive
messages with the same (process, opcode, QTYPE, server set), each with its
first and last time relative to the first line, the count, and the gaps of
more than 50 ms without any DNS message (with the number of syscalls the
processes made meanwhile on other descriptors: IPC between the main and the
network process, files).  Then totals per QTYPE.
"""
import collections
import re
import sys

LINE = re.compile(r"^(\d+)\s+(\d+):(\d+):(\d+\.\d+) (.*)$")
QT = {1: "A", 2: "NS", 6: "SOA", 28: "AAAA", 43: "DS", 46: "RRSIG", 48: "DNSKEY", 52: "TLSA",
      250: "TSIG", 252: "AXFR", 255: "ANY"}


def unhex(s):
    return bytes(int(h, 16) for h in re.findall(r"\\x([0-9a-f]{2})", s))


def addr(s):
    """An address as strace -xx prints it (hex escapes) or plainly."""
    return unhex(s).decode() if s.startswith("\\x") else s


def decode(b):
    if len(b) < 12:
        return None
    flags = (b[2] << 8) | b[3]
    opcode = (flags >> 11) & 0xF
    qr = flags >> 15
    i, labels = 12, []
    while i < len(b) and b[i] != 0 and len(labels) < 20:
        n = b[i]
        if n & 0xC0:
            break
        labels.append(b[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += n + 1
    qtype = (b[i + 1] << 8 | b[i + 2]) if i + 2 < len(b) else 0
    return qr, opcode, ".".join(labels), qtype


def main():
    conn = {}  # (pid, fd) -> (addr, port)
    stype = {}  # (pid, fd) -> tcp | udp
    left = {}  # (pid, fd) -> octets of a TCP message still to come
    events = []  # (t, pid, kind, server, name)
    other = []  # (t, pid, syscall)
    t_first = None
    for line in open(sys.argv[1]):
        m = LINE.match(line)
        if not m:
            continue
        pid, hh, mm, ss, rest = m.groups()
        t = int(hh) * 3600 + int(mm) * 60 + float(ss)
        if t_first is None:
            t_first = t
        c = re.match(r"(\w+)\((\d+)?", rest)
        if not c:
            continue
        sc, fd = c.group(1), c.group(2)
        if sc == "socket":
            r = re.search(r"= (\d+)$", rest.strip())
            if r:
                stype[(pid, r.group(1))] = "tcp" if "SOCK_STREAM" in rest else "udp"
                left.pop((pid, r.group(1)), None)
            continue
        if sc == "connect" and fd:
            a = re.search(r'sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)', rest)
            if a:
                conn[(pid, fd)] = (addr(a.group(2)), int(a.group(1)))
            continue
        if sc in ("sendto", "write", "sendmsg") and fd:
            a = re.search(r'sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)', rest)
            dest = (addr(a.group(2)), int(a.group(1))) if a else conn.get((pid, fd))
            if dest and dest[1] == 53:
                data = unhex(rest.split('"')[1]) if '"' in rest else b""
                r = re.search(r"= (\d+)$", rest.strip())
                sent = int(r.group(1)) if r else len(data)
                tcp = stype.get((pid, fd)) == "tcp"
                if tcp:
                    k = (pid, fd)
                    if left.get(k, 0) > 0:  # the rest of a message begun earlier
                        left[k] -= sent
                        continue
                    if len(data) < 14:
                        continue
                    left[k] = (data[0] << 8 | data[1]) + 2 - sent
                    data = data[2:]
                d = decode(data)
                if d is None:
                    continue
                qr, op, name, qt = d
                kind = "UPDATE" if op == 5 else ("NOTIFY" if op == 4 else QT.get(qt, str(qt)))
                if tcp:
                    kind += "/tcp"
                events.append((t - t_first, pid, kind, dest[0], name))
                continue
        other.append((t - t_first, pid, sc))
    if not events:
        print("no DNS messages found")
        return
    # Segments.
    print("| from (s) | to (s) | pid | message | servers | count | example name |")
    print("|---:|---:|---|---|---|---:|---|")
    seg = None
    segs = []
    for e in events:
        key = (e[1], e[2])
        if seg and seg["key"] == key and e[0] - seg["to"] < 0.05:
            seg["to"] = e[0]
            seg["n"] += 1
            seg["srv"].add(e[3])
        else:
            seg = {"key": key, "from": e[0], "to": e[0], "n": 1, "srv": {e[3]}, "name": e[4]}
            segs.append(seg)
    prev_to = None
    for s in segs:
        if prev_to is not None and s["from"] - prev_to > 0.05:
            n = collections.Counter()
            for t, pid, sc in other:
                if prev_to < t < s["from"]:
                    n[(pid, sc)] += 1
            top = ", ".join("%s %s x%d" % (p, c, k) for (p, c), k in n.most_common(4))
            print("| %.3f | %.3f | | *gap %.3f s, no DNS* | | | %s |" % (
                prev_to, s["from"], s["from"] - prev_to, top or "-"))
        print("| %.3f | %.3f | %s | %s | %s | %d | %s |" % (
            s["from"], s["to"], s["key"][0], s["key"][1], " ".join(sorted(s["srv"])), s["n"],
            s["name"]))
        prev_to = s["to"]
    end = other[-1][0] if other else prev_to
    print("| %.3f | %.3f | | *end (last syscall)* | | | |" % (prev_to, end))
    print()
    tot = collections.Counter(e[2] for e in events)
    print("Messages by type: " + ", ".join("%s %d" % kv for kv in tot.most_common()))


if __name__ == "__main__":
    main()
