"""TLS listener settings (Redis's tls-* directives) turned into an ssl.SSLContext."""

from __future__ import annotations

import ssl

from sentrykv_server.config import Config, ConfigError


def server_context(config: Config) -> ssl.SSLContext:
    """The context for ``tls-port``: server certificate, optional client verification.

    ``tls-auth-clients yes`` (Redis's default) requires a client certificate signed by
    ``tls-ca-cert-file``; ``optional`` verifies one when offered; ``no`` never asks.
    """
    if not config.tls_cert_file or not config.tls_key_file:
        raise ConfigError("tls-port", "tls-port needs tls-cert-file and tls-key-file")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(config.tls_cert_file, config.tls_key_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("tls-cert-file", f"Failed to load certificate/key: {exc}") from None
    mode = config.tls_auth_clients
    if mode == "no":
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if not config.tls_ca_cert_file:
        raise ConfigError("tls-ca-cert-file", "tls-auth-clients needs tls-ca-cert-file (or set it to no)")
    try:
        ctx.load_verify_locations(config.tls_ca_cert_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("tls-ca-cert-file", f"Failed to load CA certificates: {exc}") from None
    ctx.verify_mode = ssl.CERT_REQUIRED if mode == "yes" else ssl.CERT_OPTIONAL
    return ctx
