"""--tls against a redis-server listening with TLS only (certificates made with openssl)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.clitools import run_cli
from tests.support.procs import free_port


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    tmp = tmp_path_factory.mktemp("tls")
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make the test certificate"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem"), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    port = free_port()
    exe = shutil.which("redis-server")
    assert exe, "redis-server is the test oracle"
    proc = subprocess.Popen([exe, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
                             "--tls-cert-file", str(tmp / "cert.pem"), "--tls-key-file", str(tmp / "key.pem"),
                             "--tls-ca-cert-file", str(tmp / "cert.pem"), "--tls-auth-clients", "no",
                             "--save", "", "--appendonly", "no", "--dir", str(tmp)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while run_cli("-p", str(port), "--tls", "--insecure", "ping").stdout != b"PONG\n":
            assert proc.poll() is None, "redis-server (TLS) exited: is it built with TLS support?"
            assert time.monotonic() < deadline, "TLS redis-server did not come up"
            time.sleep(0.1)
        yield port, tmp / "cert.pem"
    finally:
        proc.terminate()
        proc.wait(10)


def test_tls_with_ca(tls_redis: tuple[int, Path]) -> None:
    port, cert = tls_redis
    result = run_cli("-p", str(port), "--tls", "--cacert", str(cert), "set", "secure", "yes")
    assert (result.returncode, result.stdout) == (0, b"OK\n")
    assert run_cli("-u", f"rediss://127.0.0.1:{port}", "--cacert", str(cert), "get", "secure").stdout == b"yes\n"


def test_tls_untrusted_certificate_is_refused(tls_redis: tuple[int, Path]) -> None:
    port, _ = tls_redis
    result = run_cli("-p", str(port), "--tls", "ping")
    assert result.returncode == 3
    assert b"certificate verify failed" in result.stderr


def test_plain_client_against_tls_port_fails_cleanly(tls_redis: tuple[int, Path]) -> None:
    port, _ = tls_redis
    result = run_cli("-p", str(port), "-t", "2", "ping")
    assert result.returncode == 3
    assert b"Traceback" not in result.stderr
