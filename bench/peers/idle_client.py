"""Opens N keep-alive HTTP/1.1 connections, makes one request on each, and holds them idle.

   python3 bench/peers/idle_client.py PORT N [SOURCE_ADDRESSES]

Prints "ready OPENED FAILED" once every connection has had its response, then waits until
stdin closes (the benchmark measures the server while it waits) and closes everything.
SOURCE_ADDRESSES (comma-separated 127.0.0.x) spreads connections over several source
addresses, for counts past one address's ephemeral ports. Used by bench/idle_conns.sh.
"""
import asyncio
import sys

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: idle-client\r\n\r\n"


async def one(port, source, held):
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, local_addr=(source, 0) if source else None)
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    held.append(writer)


async def main():
    port, count = int(sys.argv[1]), int(sys.argv[2])
    sources = sys.argv[3].split(",") if len(sys.argv) > 3 else [None]
    held, failed = [], 0
    batch = 500  # a few hundred connects in flight at once: no SYN-queue overflow
    for start in range(0, count, batch):
        jobs = [one(port, sources[i % len(sources)], held)
                for i in range(start, min(count, start + batch))]
        for result in await asyncio.gather(*jobs, return_exceptions=True):
            if isinstance(result, Exception):
                failed += 1
    print(f"ready {len(held)} {failed}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for w in held:
        w.close()


asyncio.run(main())
