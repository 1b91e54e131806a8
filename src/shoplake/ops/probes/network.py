"""The network layers every remote endpoint shares: name resolution, TCP connect, TLS.

:class:`NetworkProbe` implements ``dns``, ``tcp`` and ``tls`` for one :class:`Address`;
the probes of valkey, HTTP APIs, AWS services and PostgreSQL build on it.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from typing import Any

from shoplake.ops.doctor import Failed, Limits, NotListening, Probe, Skipped

# OpenSSL verify codes worth naming (X509_V_ERR_…).
_CERT_PROBLEMS: dict[int, tuple[str, str]] = {
    10: ("certificate has expired", "renew the server's certificate"),
    18: (
        "self-signed certificate",
        "trust it (point SSL_CERT_FILE at its CA bundle) or install a certificate from a CA",
    ),
    19: (
        "self-signed certificate in the chain",
        "trust the private CA (SSL_CERT_FILE) or install a certificate from a public CA",
    ),
    20: (
        "certificate issued by an unknown CA",
        "trust the issuing CA (SSL_CERT_FILE) or install a certificate from a public CA",
    ),
}
_NAME_MISMATCH = (62, 64)  # host name, IP address
# What an SSL client sees when the server answers a ClientHello in plain text.
_PLAIN_REPLIES = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG")


@dataclass(frozen=True)
class Address:
    """Where an endpoint listens, the setting that names it, and the fix when nothing does."""

    host: str
    port: int
    config_key: str
    start_fix: str
    unix_path: str | None = None

    def __str__(self) -> str:
        if self.unix_path:
            return self.unix_path
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def is_ip(host: str) -> bool:
    """Whether ``host`` is an IP literal (nothing to resolve)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def resolve(address: Address, timeout: float) -> str:
    """Resolve the host name within ``timeout``; the detail lists the addresses."""
    if address.unix_path:
        raise Skipped("Unix socket")
    if is_ip(address.host):
        raise Skipped(f"{address.host} is an IP address")
    outcome: dict[str, Any] = {}

    def lookup() -> None:
        try:
            outcome["infos"] = socket.getaddrinfo(
                address.host, address.port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=lookup, daemon=True, name="doctor-dns")
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise Failed(
            f"no DNS answer for {address.host} ({address.config_key}) within {timeout:g}s",
            "check the DNS resolver (/etc/resolv.conf) or use an IP address",
        )
    if "error" in outcome:
        reason = getattr(outcome["error"], "strerror", None) or str(outcome["error"])
        raise Failed(
            f"cannot resolve {address.host} ({address.config_key}): {reason}",
            f"check the host name in {address.config_key} or DNS",
        )
    found = sorted({info[4][0] for info in outcome["infos"]})
    return f"{address.host} → {', '.join(found)}"


def connect(address: Address, timeout: float) -> socket.socket:
    """An open connection to the address, or :class:`Failed` saying why there is none."""
    try:
        if address.unix_path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(address.unix_path)
            except OSError:
                sock.close()
                raise
            return sock
        return socket.create_connection((address.host, address.port), timeout=timeout)
    except FileNotFoundError:
        raise NotListening(
            f"socket {address} does not exist: no server runs there", address.start_fix
        ) from None
    except ConnectionRefusedError:
        if address.unix_path:
            problem = f"socket {address} exists but nothing accepts on it (a stopped server's)"
        else:
            problem = f"connection refused on {address}: nothing listens there"
        raise NotListening(problem, address.start_fix) from None
    except PermissionError:
        raise Failed(
            f"permission denied connecting to {address}",
            "run as a user allowed to reach it, or fix the socket's permissions",
        ) from None
    except TimeoutError:
        raise Failed(
            f"no answer from {address} within {timeout:g}s: the port is filtered by a "
            "firewall or the host is down",
            f"check that the host is up and that firewalls let you reach port {address.port}, "
            f"or fix {address.config_key}",
        ) from None
    except OSError as exc:
        if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            raise Failed(
                f"no route to {address}: {exc.strerror}",
                f"check the network (VPN, routes) or fix {address.config_key}",
            ) from None
        raise


def tls_context(*, verify: bool = True, check_hostname: bool = True) -> ssl.SSLContext:
    """A client context: the default trust store (``SSL_CERT_FILE`` honoured)."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif not check_hostname:
        context.check_hostname = False
    return context


def handshake(
    sock: socket.socket,
    address: Address,
    *,
    context: ssl.SSLContext,
    plain: str,
    tls_fix: str,
) -> str:
    """TLS handshake on an open socket; the detail names the protocol and the certificate.

    ``plain`` names what the server speaks when it is not TLS (``HTTP``, ``RESP``);
    ``tls_fix`` is the fix when TLS is required but not offered. The socket is closed.
    """
    try:
        with context.wrap_socket(sock, server_hostname=address.host) as secure:
            version = secure.version() or "TLS"
            cert = secure.getpeercert() or {}
    except ssl.SSLCertVerificationError as exc:
        raise _certificate_failure(exc, address) from None
    except TimeoutError:
        seen = f"no handshake reply within {sock.gettimeout() or 0:g}s"
        raise _not_offered(address, plain, tls_fix, seen) from None
    except (ssl.SSLEOFError, ConnectionResetError):
        raise _not_offered(address, plain, tls_fix, "connection closed on hello") from None
    except ssl.SSLError as exc:
        if any(reply in str(exc).upper() for reply in _PLAIN_REPLIES):
            seen = str(exc.reason or exc).lower().replace("_", " ")
            raise _not_offered(address, plain, tls_fix, seen) from None
        raise Failed(f"TLS handshake with {address} failed: {exc.reason or exc}", tls_fix) from None
    finally:
        sock.close()
    expires = cert.get("notAfter")
    return f"{version}" + (f", certificate valid until {expires}" if expires else "")


def _not_offered(address: Address, plain: str, fix: str, seen: str) -> Failed:
    return Failed(
        f"TLS required but not offered: {address} speaks plain {plain} ({seen})",
        fix,
    )


def _certificate_failure(exc: ssl.SSLCertVerificationError, address: Address) -> Failed:
    problem, fix = _CERT_PROBLEMS.get(
        exc.verify_code, (exc.verify_message or str(exc), "fix the server's certificate")
    )
    if exc.verify_code in _NAME_MISMATCH:
        problem = f"certificate is not valid for {address.host} (name mismatch)"
        fix = (
            f"connect by a name the certificate lists or reissue it for {address.host} "
            f"({address.config_key})"
        )
    return Failed(f"TLS certificate of {address} rejected: {problem}", fix)


class NetworkProbe(Probe):
    """A probe of a server reached over TCP (or a Unix socket), optionally through TLS.

    ``tls_skipped`` says why TLS is not checked (None: TLS is requested); ``plain`` names the
    protocol a plain server speaks; ``tls_fix`` is the fix when TLS is not offered.
    """

    plain = "text"

    def __init__(
        self,
        name: str,
        target: str,
        address: Address,
        limits: Limits,
        *,
        tls_skipped: str | None,
        tls_fix: str = "",
    ) -> None:
        super().__init__(name, target)
        self.address = address
        self.limits = limits
        self.timeout = limits.timeout
        self.tls_skipped = tls_skipped
        self.tls_fix = tls_fix

    def dns(self) -> str:
        return resolve(self.address, self.timeout)

    def tcp(self) -> str:
        connect(self.address, self.timeout).close()
        return f"connected to {self.address}"

    def tls(self) -> str:
        if self.tls_skipped:
            raise Skipped(self.tls_skipped)
        sock = connect(self.address, self.timeout)
        return handshake(
            sock, self.address, context=tls_context(), plain=self.plain, tls_fix=self.tls_fix
        )
