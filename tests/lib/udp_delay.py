#!/usr/bin/python3
"""tests/lib/udp_delay.py - a slow link in front of a real DNS server.

    udp_delay.py LISTEN_ADDR PORT UPSTREAM_ADDR PORT DELAY_MS MAX_SECONDS

Forwards every UDP datagram to the upstream server and its replies back,
each way after DELAY_MS / 2 (so DELAY_MS is the round trip added), in
order, with nothing dropped or changed: a remote secondary as the daemon
would see it on a long link, where network namespaces cannot add latency
(this kernel has no netem).  One upstream socket per client address, so
that the server's replies find their way back.  Exits after MAX_SECONDS,
or on SIGTERM.  Prints "ready" on stdout once it listens.
"""
import asyncio
import signal
import socket
import sys


class Upstream(asyncio.DatagramProtocol):
    def __init__(self, proxy, client):
        self.proxy, self.client, self.transport = proxy, client, None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.proxy.later(lambda: self.proxy.transport.sendto(data, self.client))


class Proxy(asyncio.DatagramProtocol):
    def __init__(self, listen, upstream, delay):
        self.listen, self.upstream, self.delay = listen, upstream, delay
        self.transport, self.peers, self.waiting = None, {}, {}

    def connection_made(self, transport):
        self.transport = transport

    def later(self, fn):
        asyncio.get_running_loop().call_later(self.delay, fn)

    def datagram_received(self, data, addr):
        peer = self.peers.get(addr)
        if peer is None and len(self.peers) >= 64:
            return  # bounded: a test has a handful of clients
        if peer is None:
            self.waiting.setdefault(addr, []).append(data)
            if len(self.waiting[addr]) == 1:
                asyncio.ensure_future(self.connect(addr))
            return
        self.later(lambda: peer.transport.sendto(data, self.upstream))

    async def connect(self, addr):
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_datagram_endpoint(
            lambda: Upstream(self, addr), local_addr=(self.listen, 0), family=socket.AF_INET)
        self.peers[addr] = proto
        for data in self.waiting.pop(addr, []):
            self.later(lambda d=data: proto.transport.sendto(d, self.upstream))


async def main():
    listen, lport, up, uport, delay_ms, secs = sys.argv[1:7]
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    transport, _ = await loop.create_datagram_endpoint(
        lambda: Proxy(listen, (up, int(uport)), int(delay_ms) / 2000.0),
        local_addr=(listen, int(lport)))
    print("ready", flush=True)
    try:
        await asyncio.wait_for(stop, timeout=float(secs))
    except asyncio.TimeoutError:
        pass
    transport.close()


if __name__ == "__main__":
    asyncio.run(main())
