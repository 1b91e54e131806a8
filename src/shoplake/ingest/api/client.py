"""An HTTP client for the supplier's REST API, written the way a careful integration is.

* OAuth2 client credentials: a token is fetched on first use and fetched again when the API
  answers 401 ``invalid_token`` (it expired mid-run); a static ``supplier.token`` is used as is.
* Retries with exponential backoff and full jitter on transport errors (refused, dropped or
  timed-out connections), 5xx answers and pages that are not valid JSON; a 429 waits exactly
  what ``Retry-After`` asks (plus a little jitter, so clients do not return in lock step).
* Everything else (403, 400, an unknown client) fails at once with one line saying what to fix.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shoplake.config import SupplierSettings
from shoplake.errors import ShoplakeError
from shoplake.redact import redact

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
#: Longest Retry-After honoured; a server asking for more is treated as unavailable.
MAX_RETRY_AFTER_SECONDS = 300.0
#: Token refreshes allowed for one request (a token that expires at once would loop forever).
MAX_REFRESHES_PER_REQUEST = 2


class SupplierApiError(ShoplakeError):
    """The supplier API refused a request, or kept failing after every retry."""


@dataclass
class ClientStats:
    """What talking to the API took: requests, retries by reason, token fetches, waiting."""

    requests: int = 0
    token_fetches: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    waited_seconds: float = 0.0


@dataclass
class Page:
    """One page of records and the cursor of the next one (None on the last page)."""

    records: list[Any]
    next_cursor: str | None


class _RetryableError(Exception):
    """A failed attempt worth repeating, with the pause the server asked for (if any)."""

    def __init__(self, reason: str, detail: str, wait: float | None = None) -> None:
        super().__init__(detail)
        self.reason, self.detail, self.wait = reason, detail, wait


class SupplierClient:
    """Token handling, retries and pagination over the supplier API."""

    def __init__(
        self,
        settings: SupplierSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        import httpx

        self.settings = settings
        self.base_url = settings.base_url()
        self.shown_url = redact(self.base_url)  # for messages: a URL may carry a key
        self.stats = ClientStats()
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._token = settings.token.get_secret_value() if settings.token else None
        try:
            self._http = httpx.Client(
                base_url=self.base_url,
                timeout=settings.timeout_seconds,
                headers={"User-Agent": "shoplake-ingest"},
            )
        except httpx.InvalidURL:  # its message may quote a piece of the password
            raise SupplierApiError(
                f"invalid supplier.url {self.shown_url!r}: not a URL; percent-encode '/', '@' "
                "and ':' in its user name and password"
            ) from None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SupplierClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Pagination --------------------------------------------------------------------------------

    def pages(self, resource: str, updated_since: str | None = None) -> Iterator[Page]:
        """Every page of ``/v1/<resource>``, oldest change first, from ``updated_since`` on."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": self.settings.page_size}
            if cursor is not None:
                params["cursor"] = cursor
            elif updated_since is not None:
                params["updated_since"] = updated_since
            page = self.get_page(f"/v1/{resource}", params)
            yield page
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def get_page(self, path: str, params: dict[str, Any]) -> Page:
        """GET one page, fetching a new token when the current one expired."""
        for _ in range(MAX_REFRESHES_PER_REQUEST + 1):
            response = self._with_retries(
                f"GET {path}", lambda: self._http.get(path, params=params, headers=self._auth())
            )
            if response.status_code == 401 and self.settings.token is None:
                self.stats.retries["token expired"] += 1
                log.info("supplier API: %s", _bearer_error(response))
                self._token = None
                continue
            return self._page(path, response)
        raise SupplierApiError(
            f"supplier API {self.shown_url}{path}: a fresh token was refused "
            f"{MAX_REFRESHES_PER_REQUEST} times in a row ({_bearer_error(response)})"
        )

    def _page(self, path: str, response: httpx.Response) -> Page:
        where = f"supplier API {self.shown_url}{path}"
        if response.status_code == 401:
            raise SupplierApiError(
                f"{where}: the configured supplier.token was refused ({_bearer_error(response)}); "
                "renew it, or remove it to use client credentials"
            )
        if response.status_code == 403:
            body = _json_or_empty(response)
            needed = body.get("required", "a scope it lacks")
            raise SupplierApiError(
                f"{where}: forbidden — client {self.settings.client_id!r} needs scope "
                f"{needed}; ask the supplier to grant it"
            )
        if response.status_code != 200:
            raise SupplierApiError(f"{where}: HTTP {response.status_code}: {_describe(response)}")
        body = response.json()  # parsed and shape-checked in _with_retries
        return Page(records=body["data"], next_cursor=body.get("next_cursor"))

    # Authentication ------------------------------------------------------------------------------

    def _auth(self) -> dict[str, str]:
        if self._token is None:
            self._token = self._fetch_token()
        return {"Authorization": f"Bearer {self._token}"}

    def _fetch_token(self) -> str:
        settings = self.settings
        form = {
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret.get_secret_value(),
        }
        response = self._with_retries(
            "POST /oauth/token", lambda: self._http.post("/oauth/token", data=form)
        )
        self.stats.token_fetches += 1
        if response.status_code != 200:
            raise SupplierApiError(
                f"supplier API {self.shown_url}/oauth/token refused client "
                f"{settings.client_id!r}: {_describe(response)} — fix supplier.client_id / "
                "supplier.client_secret"
            )
        token = _json_or_empty(response).get("access_token")
        if not isinstance(token, str) or not token:
            raise SupplierApiError(
                f"supplier API {self.shown_url}/oauth/token answered without an access_token"
            )
        return token

    # Retries -------------------------------------------------------------------------------------

    def _with_retries(self, what: str, send: Callable[[], httpx.Response]) -> httpx.Response:
        """Send until the answer is final: success, or an error that retrying cannot fix."""
        attempts = self.settings.max_attempts
        last = ""
        for attempt in range(attempts):
            try:
                return self._attempt(send)
            except _RetryableError as retry:
                last = retry.detail
                if attempt + 1 == attempts:
                    break
                self.stats.retries[retry.reason] += 1
                pause = self._pause(attempt, retry.wait)
                log.info("supplier API %s: %s; retrying in %.2f s", what, retry.detail, pause)
                self.stats.waited_seconds += pause
                self._sleep(pause)
        raise SupplierApiError(
            f"supplier API {self.shown_url}: {what} failed {attempts} times; last: {last} "
            "(raise supplier.max_attempts or check the API's health)"
        )

    def _attempt(self, send: Callable[[], httpx.Response]) -> httpx.Response:
        import httpx

        self.stats.requests += 1
        try:
            response = send()
        except httpx.TimeoutException as exc:
            raise _RetryableError("timeouts", f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise _RetryableError("connection errors", f"connection failed: {exc}") from exc
        status = response.status_code
        if status == 429:
            wait = _retry_after(response)
            raise _RetryableError("rate limited", f"429 rate limited (Retry-After {wait})", wait)
        if status in RETRYABLE_STATUS:
            raise _RetryableError("server errors", f"HTTP {status}: {_describe(response)}")
        if status == 200 and response.request.method == "GET":
            _check_page_body(response)
        return response

    def _pause(self, attempt: int, asked: float | None) -> float:
        """Full-jitter exponential backoff, or what Retry-After asked plus up to 10%."""
        if asked is not None:
            return asked * (1.0 + 0.1 * self._rng.random())
        ceiling = min(self.settings.max_backoff_seconds, self.settings.backoff_seconds * 2**attempt)
        return self._rng.uniform(0.0, ceiling)


def _check_page_body(response: httpx.Response) -> None:
    """A page must be a JSON object with a ``data`` list; anything else is retried."""
    try:
        body = response.json()
    except ValueError as exc:
        raise _RetryableError("malformed pages", f"page is not valid JSON ({exc})") from exc
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise _RetryableError("malformed pages", "page has no 'data' list")
    cursor = body.get("next_cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise _RetryableError("malformed pages", "page's next_cursor is not a string")


def _retry_after(response: httpx.Response) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date); 1 when absent."""
    value = response.headers.get("Retry-After", "").strip()
    seconds = 1.0
    if value:
        try:
            seconds = float(value)
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            seconds = when.timestamp() - time.time() if when else 1.0
    if seconds > MAX_RETRY_AFTER_SECONDS:
        raise SupplierApiError(
            f"supplier API asks to wait {seconds:.0f} s (Retry-After); try again later"
        )
    return max(seconds, 0.0)


def _json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _describe(response: httpx.Response) -> str:
    """The error and its description from an error body, or the start of the raw body."""
    body = _json_or_empty(response)
    if "error" in body:
        description = body.get("error_description")
        return f"{body['error']}: {description}" if description else str(body["error"])
    return response.text[:200] or response.reason_phrase


def _bearer_error(response: httpx.Response) -> str:
    header = response.headers.get("WWW-Authenticate", "")
    return header or _describe(response)
