#!/usr/bin/python3
"""tests/lib/memscan.py - count byte strings in a running process's memory.

    memscan.py PID NAME=HEX...

Reads every readable mapping of process PID (its /proc/PID/maps) through
/proc/PID/mem and prints, for each pattern, "NAME COUNT", the number of
places it occurs, then "read BYTES REGIONS UNREADABLE SKIPPED": how much
memory was read, from how many regions, how many readable regions could not
be read (the kernel's [vvar] is one), and how many were skipped for being
larger than 1 GiB (none in an ordinary process; a sanitizer's shadow
memory, terabytes never written, is one).  Exits 2 when the process's memory
cannot be opened at all (gone, or no permission: a process that is not
dumpable can be read only with CAP_SYS_PTRACE, as root has it), 0
otherwise.  Reads in pieces of 8 MiB that overlap by the longest pattern,
so a match across two pieces is counted once.
"""
import sys

PIECE = 8 << 20
HUGE = 1 << 30


def main():
    pid = int(sys.argv[1])
    pats = []
    for arg in sys.argv[2:]:
        name, _, hexs = arg.partition("=")
        pats.append((name, bytes.fromhex(hexs)))
    longest = max((len(p) for _, p in pats), default=1)
    counts = {name: 0 for name, _ in pats}
    total = regions = unreadable = skipped = 0
    try:
        maps = open(f"/proc/{pid}/maps").read().splitlines()
        mem = open(f"/proc/{pid}/mem", "rb", buffering=0)
    except OSError as e:
        print(f"cannot open the memory of process {pid}: {e.strerror}", file=sys.stderr)
        return 2
    for line in maps:
        fields = line.split()
        if len(fields) < 2 or fields[1][0] != "r":
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if end - start > HUGE:
            skipped += 1
            continue
        regions += 1
        seen = {name: set() for name, _ in pats}
        off = start
        ok = False
        while off < end:
            n = min(PIECE + longest - 1, end - off)
            try:
                mem.seek(off)
                data = mem.read(n)
            except OSError:
                break
            if not data:
                break
            ok = True
            total += len(data)
            for name, p in pats:
                i = data.find(p)
                while i >= 0:
                    seen[name].add(off + i)
                    i = data.find(p, i + 1)
            off += PIECE
        if not ok:
            unreadable += 1
        for name in counts:
            counts[name] += len(seen[name])
    for name, _ in pats:
        print(name, counts[name])
    print("read", total, regions, unreadable, skipped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
