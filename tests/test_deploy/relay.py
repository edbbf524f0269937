"""A TCP relay for the network-namespace test: ``LISTEN_HOST:P`` -> ``TARGET_HOST:P`` per port.

The machine's PostgreSQL, RabbitMQ and Redis, and the test's own servers, listen on 127.0.0.1
only; workers in their own network namespaces reach them through this relay on the address the
host has on their virtual links. Run as ``python -m tests.test_deploy.relay LISTEN TARGET
PORT...``; it prints ``ready`` once every port listens.
"""

import asyncio
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then half-close: the other direction may still be talking
    (git's client shuts its side once it has sent its wants)."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


async def _serve(listen: str, target: str, ports: list[int]) -> None:
    async def handler(
        port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(target, port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        writer.close()
        up_writer.close()

    servers = [
        await asyncio.start_server(
            lambda r, w, port=port: handler(port, r, w), listen, port, reuse_address=True
        )
        for port in ports
    ]
    print("ready", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    listen_host, target_host, *raw_ports = sys.argv[1:]
    asyncio.run(_serve(listen_host, target_host, [int(p) for p in raw_ports]))
