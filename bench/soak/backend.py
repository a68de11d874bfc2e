#!/usr/bin/env python3
"""Soak backend: an HTTP/1.1 keep-alive server on 127.0.0.1:PORT (0: any free port; prints `ready PORT`) that answers every request 200 with its name.

On SIGTERM it stops accepting, finishes the requests in flight, closes idle keep-alive connections and exits: a
graceful stop, so the soak can kill and restart it without breaking requests on purpose.
"""
import asyncio
import signal
import sys

NAME = sys.argv[2].encode()
BODY = NAME + b"\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nx-backend: %s\r\n\r\n%s" % (len(BODY), NAME, BODY)
busy = 0
idle = set()


async def serve(reader, writer):
    global busy
    idle.add(writer)
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            idle.discard(writer)
            busy += 1
            try:
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                writer.write(RESPONSE)
                await writer.drain()
            finally:
                busy -= 1
            if stopping.is_set():
                break
            idle.add(writer)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        idle.discard(writer)
        writer.close()


async def main():
    global stopping
    stopping = asyncio.Event()
    # Port 0 on the first start; a restart asks for its old port again, which another process on the box may hold
    # for a moment (an outgoing connection's local port), so it retries for a while before giving up.
    for attempt in range(100):
        try:
            server = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]), backlog=1024, reuse_address=True)
            break
        except OSError:
            if attempt == 99:
                raise
            await asyncio.sleep(0.1)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    print("ready", server.sockets[0].getsockname()[1], flush=True)
    await stopping.wait()
    server.close()
    for w in list(idle):
        w.close()
    while busy:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)


asyncio.run(main())
