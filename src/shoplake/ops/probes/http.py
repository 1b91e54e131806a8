"""HTTP endpoints: the network layers of a base URL and requests whose failures are diagnosed.

:class:`HttpProbe` turns transport errors (refused, timed out, TLS) into :class:`Failed` and
leaves the API's own semantics — tokens, scopes, keys — to :mod:`.supplier` and :mod:`.api`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from shoplake.ops.doctor import Failed, Limits
from shoplake.ops.probes.network import Address, NetworkProbe, tls_context

if TYPE_CHECKING:
    import httpx


def http_address(base_url: str, config_key: str, start_fix: str) -> Address:
    """The host and port of an ``http(s)://`` base URL."""
    parts = urlsplit(base_url)
    default = 443 if parts.scheme == "https" else 80
    return Address(parts.hostname or "localhost", parts.port or default, config_key, start_fix)


def retry_after(response: httpx.Response) -> str:
    """``Retry-After`` in words, for a 429 diagnosis."""
    value = response.headers.get("retry-after")
    return f"retry after {value} s" if value else "no Retry-After given"


def json_body(response: httpx.Response) -> Any:
    """The response's JSON, or None when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


class HttpProbe(NetworkProbe):
    """An HTTP API at ``base_url``: DNS, TCP, TLS (https only), then requests."""

    plain = "HTTP"

    def __init__(
        self, name: str, base_url: str, config_key: str, start_fix: str, limits: Limits
    ) -> None:
        scheme = urlsplit(base_url).scheme
        tls_skipped = None if scheme == "https" else f"not requested ({scheme}://)"
        tls_fix = f"use http:// in {config_key}, or serve the API over TLS"
        address = http_address(base_url, config_key, start_fix)
        super().__init__(name, base_url, address, limits, tls_skipped=tls_skipped, tls_fix=tls_fix)
        self.base_url = base_url.rstrip("/")
        self.config_key = config_key
        self._client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            import httpx

            # The trust store the TLS layer checked (SSL_CERT_FILE honoured), not certifi's.
            self._client = httpx.Client(
                base_url=self.base_url, timeout=self.timeout, verify=tls_context()
            )
        return self._client

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; transport failures become a diagnosis naming the URL."""
        import httpx

        try:
            return self.client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise Failed(
                f"{method} {self.base_url}{path} got no answer within {self.timeout:g}s",
                f"the server at {self.address} hangs: check its load, or raise "
                "doctor.timeout_seconds",
            ) from None
        except httpx.TransportError as exc:
            raise Failed(
                f"{method} {self.base_url}{path} failed: {exc}",
                f"check the server at {self.address} and {self.config_key}",
            ) from None

    def unexpected(self, response: httpx.Response, what: str) -> Failed:
        """A diagnosis of an answer the probe did not expect."""
        request = f"{response.request.method} {response.request.url.path}"
        if response.status_code == 429:
            return Failed(
                f"{request} was rate limited (429, {retry_after(response)})",
                "wait and retry; the API limits requests per client",
            )
        if response.status_code >= 500:
            return Failed(
                f"{request} failed on the server side ({response.status_code})",
                f"the API at {self.base_url} is unwell: check its log, then retry",
            )
        return Failed(
            f"{request} answered {response.status_code} where {what} was expected",
            f"check that {self.config_key} points at the right API",
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
