"""TLS layer against a real TLS server: self-signed, expired and wrong-name certificates.

The server is Python's own ``ssl`` on a thread with certificates made here (``cryptography``);
a private CA is trusted through ``SSL_CERT_FILE``, so each certificate problem is told apart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shoplake.config import load_settings
from shoplake.ops.doctor import EndpointReport, diagnose
from shoplake.ops.endpoints import build_probes

x509 = pytest.importorskip("cryptography.x509")
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

NOW = dt.datetime.now(dt.UTC)


def _certificate(
    directory: Path,
    name: str,
    *,
    issuer: tuple[Any, Any] | None = None,
    hosts: tuple[str, ...] = (),
    expired: bool = False,
    ca: bool = False,
) -> tuple[Path, Path, tuple[Any, Any]]:
    """Write a key and a certificate, self-signed unless ``issuer`` is given.

    Returns the certificate's and the key's paths, and (certificate, key) to sign others with.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_cert, signer_key = issuer if issuer else (None, key)
    start, end = (NOW - dt.timedelta(days=30), NOW - dt.timedelta(days=1)) if expired else (
        NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=30)
    )  # fmt: skip
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_cert.subject if signer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if hosts:
        names = [
            x509.IPAddress(ipaddress.ip_address(h)) if h[0].isdigit() else x509.DNSName(h)
            for h in hosts
        ]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(signer_key, hashes.SHA256())
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, (certificate, key)


@contextlib.contextmanager
def tls_server(cert: Path, key: Path) -> Iterator[int]:
    """A TLS server on 127.0.0.1 that completes handshakes and hangs up; yields its port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    directory = tmp_path_factory.mktemp("certs")
    ca_cert, _, ca = _certificate(directory, "ca", ca=True)
    made = {"ca": (ca_cert, ca_cert)}
    made["self-signed"] = _certificate(directory, "self", hosts=("127.0.0.1",))[:2]
    made["expired"] = _certificate(directory, "old", issuer=ca, hosts=("127.0.0.1",), expired=True)[
        :2
    ]
    made["wrong-name"] = _certificate(directory, "other", issuer=ca, hosts=("other.example",))[:2]
    made["good"] = _certificate(directory, "good", issuer=ca, hosts=("127.0.0.1",))[:2]
    return made


def _tls_report(tmp_path: Path, port: int) -> EndpointReport:
    settings = load_settings(
        data_dir=tmp_path,
        **{"supplier.url": f"https://127.0.0.1:{port}", "doctor.timeout_seconds": 2.0},
    )
    (report,) = diagnose(build_probes(settings, ["supplier-api"]))
    return report


@pytest.mark.parametrize(
    ("kind", "problem", "fix"),
    [
        ("self-signed", "self-signed certificate", "trust it (point SSL_CERT_FILE"),
        ("expired", "certificate has expired", "renew the server's certificate"),
        (
            "wrong-name",
            "certificate is not valid for 127.0.0.1 (name mismatch)",
            "connect by a name the certificate lists or reissue it for 127.0.0.1 (supplier.url)",
        ),
    ],
)
def test_certificate_problems_are_named(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    certs: dict[str, tuple[Path, Path]],
    kind: str,
    problem: str,
    fix: str,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs["ca"][0]))
    with tls_server(*certs[kind]) as port:
        report = _tls_report(tmp_path, port)
    assert report.failed_layer == "tls"
    assert report.problem == f"TLS certificate of 127.0.0.1:{port} rejected: {problem}"
    assert (report.fix or "").startswith(fix)


def test_trusted_certificate_passes_tls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, certs: dict[str, tuple[Path, Path]]
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs["ca"][0]))
    with tls_server(*certs["good"]) as port:
        report = _tls_report(tmp_path, port)
    tls = report.layers[2]
    assert (tls.layer, tls.status) == ("tls", "ok")
    assert tls.detail.startswith("TLSv1.3, certificate valid until ")
    assert report.failed_layer == "auth"  # a TLS server, but no supplier API behind it
