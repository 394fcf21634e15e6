"""TLS: tls-port with certificates the test makes; redis-py ssl=True and redis-cli --tls."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest
import redis

from tests.support.procs import ServerProcess, free_port, wait_ready


def openssl(*args: str, cwd: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="sentrykv-tls-")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Test CA",
            "-keyout", "ca.key", "-out", "ca.crt", cwd=d)
    for name in ("server", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
        with open(os.path.join(d, f"{name}.ext"), "w") as fh:
            fh.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def tls_server(certs: str, auth_clients: str) -> ServerProcess:
    tls_port = free_port()
    srv = ServerProcess(args=[
        "--appendonly", "no", "--tls-port", str(tls_port),
        "--tls-cert-file", os.path.join(certs, "server.crt"),
        "--tls-key-file", os.path.join(certs, "server.key"),
        "--tls-ca-cert-file", os.path.join(certs, "ca.crt"),
        "--tls-auth-clients", auth_clients,
    ])
    srv.start()
    srv.tls_port = tls_port  # type: ignore[attr-defined]
    return srv


def test_redis_py_over_tls_without_client_certs(certs: str) -> None:
    srv = tls_server(certs, "no")
    try:
        r = redis.Redis(port=srv.tls_port, ssl=True, ssl_ca_certs=os.path.join(certs, "ca.crt"),  # type: ignore[attr-defined]
                        ssl_check_hostname=False, socket_timeout=10)
        assert r.set("k", "v")
        assert r.get("k") == b"v"
        assert srv.client().get("k") == b"v"  # the plain port serves the same data
    finally:
        srv.stop()
        srv.cleanup()


def test_client_certificate_required(certs: str) -> None:
    srv = tls_server(certs, "yes")
    ca = os.path.join(certs, "ca.crt")
    try:
        anonymous = redis.Redis(port=srv.tls_port, ssl=True, ssl_ca_certs=ca,  # type: ignore[attr-defined]
                                ssl_check_hostname=False, socket_timeout=5)
        with pytest.raises((redis.ConnectionError, OSError)):
            anonymous.ping()
        r = redis.Redis(port=srv.tls_port, ssl=True, ssl_ca_certs=ca, ssl_check_hostname=False,  # type: ignore[attr-defined]
                        ssl_certfile=os.path.join(certs, "client.crt"),
                        ssl_keyfile=os.path.join(certs, "client.key"), socket_timeout=10)
        assert r.ping()
        cli = subprocess.run(
            ["redis-cli", "--tls", "--cacert", ca, "--cert", os.path.join(certs, "client.crt"),
             "--key", os.path.join(certs, "client.key"), "-p", str(srv.tls_port), "SET", "a", "1"],  # type: ignore[attr-defined]
            capture_output=True, text=True, timeout=20,
        )
        assert cli.stdout.strip() == "OK", cli.stderr
        assert r.get("a") == b"1"
    finally:
        srv.stop()
        srv.cleanup()


def test_bad_tls_config_refuses_to_start(certs: str) -> None:
    srv = ServerProcess(args=["--tls-port", str(free_port()), "--tls-cert-file", "/nonexistent.crt",
                              "--tls-key-file", "/nonexistent.key"])
    try:
        srv.start(wait=False)
        assert srv.proc is not None
        assert srv.proc.wait(20) == 1
        assert "TLS configuration error" in srv.log_text()
        with pytest.raises((TimeoutError, RuntimeError)):
            wait_ready(srv.port, srv.proc, timeout=1)
    finally:
        srv.stop()
        srv.cleanup()
