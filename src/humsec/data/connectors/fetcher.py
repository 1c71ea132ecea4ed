"""Robust HTTP for the connectors: retries with exponential back-off, rate limits,
timeouts, resumable downloads and plain-language errors.

The clock and the sleep function are injected, so back-off and rate limiting are tested
without waiting; the :class:`httpx.Client` can be injected too (tests use ``respx``).

Retry policy
------------
Retried: timeouts, dropped connections, connection failures other than a failed name
lookup, HTTP 429 and 5xx (500, 502, 503, 504). The *n*-th retry waits
``min(backoff * 2**(n-1), max_backoff)`` seconds, or the server's ``Retry-After`` (capped
at ``max_backoff``) when it sends one. A failed name lookup means there is no network (or
the host name is wrong): it is reported at once as :class:`SourceUnreachableError`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from humsec.data.connectors.base import Request, SourceError, SourceUnreachableError
from humsec.settings import FetchSettings

__all__ = ["Fetcher", "RETRY_STATUS", "backoff_delays"]

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_DNS_HINTS = ("name or service not known", "temporary failure in name resolution",
              "nodename nor servname", "getaddrinfo failed", "no address associated",
              "name resolution")
_CHUNK = 1 << 16


def backoff_delays(settings: FetchSettings) -> list[float]:
    """The waits before each retry: ``backoff * 2**k`` capped at ``max_backoff``."""
    return [min(settings.backoff * 2 ** k, settings.max_backoff) for k in range(settings.retries)]


def _unreachable(host: str, exc: Exception) -> SourceUnreachableError:
    text = str(exc) or exc.__class__.__name__
    if any(h in text.lower() for h in _DNS_HINTS):
        why = "no network connection (the host name could not be looked up)"
    else:
        why = "no network connection, or the host is down or refuses connections"
    return SourceUnreachableError(
        f"cannot reach {host}: {why} [{text}]. Check your internet connection and try "
        "again; `--dry-run` shows the requests without sending them.")


def _is_dns_failure(exc: Exception) -> bool:
    return any(h in str(exc).lower() for h in _DNS_HINTS)


def _snippet(resp: httpx.Response, limit: int = 200) -> str:
    try:
        text = resp.text
    except Exception:  # pragma: no cover - undecodable body
        return ""
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


class Fetcher:
    """Sends the connectors' requests.

    Parameters
    ----------
    settings : FetchSettings
        Timeouts, retries, back-off.
    client : httpx.Client, optional
        Client to use (a new one, closed by :meth:`close`, by default).
    sleep : callable
        ``sleep(seconds)``; :func:`time.sleep` by default.
    clock : callable
        Monotonic clock in seconds; :func:`time.monotonic` by default.
    """

    def __init__(self, settings: FetchSettings, *, client: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self._own = client is None
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(settings.timeout), follow_redirects=True,
            headers={"User-Agent": settings.user_agent})
        self.sleep = sleep
        self.clock = clock
        self._last: dict[str, float] = {}
        self.sent: list[str] = []  # every URL requested, in order (for provenance)
        self.digest = hashlib.sha256()  # over every answer's bytes, in order

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def reset_log(self) -> None:
        """Forget the URLs and answers recorded so far (one log per fetch)."""
        self.sent = []
        self.digest = hashlib.sha256()

    def close(self) -> None:
        if self._own:
            self.client.close()

    # -- pacing ------------------------------------------------------------------------
    def _pace(self, host: str, rate: float | None) -> None:
        """Wait so that at most ``rate`` requests per second go to ``host``."""
        if not rate:
            return
        gap = 1.0 / rate
        last = self._last.get(host)
        now = self.clock()
        if last is not None and now - last < gap:
            self.sleep(gap - (now - last))
            now = self.clock()
        self._last[host] = now

    def _retry_after(self, resp: httpx.Response) -> float | None:
        value = resp.headers.get("Retry-After")
        if not value:
            return None
        try:
            secs = float(value)
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            secs = (when - _dt.datetime.now(_dt.timezone.utc)).total_seconds()
        return max(0.0, min(secs, self.settings.max_backoff))

    def _attempts(self, request: Request, rate: float | None, send: Callable[[], httpx.Response]):
        """Call ``send`` with retries; returns the successful response."""
        delays = backoff_delays(self.settings)
        host = request.host
        attempt = 0
        while True:
            self._pace(host, rate)
            wait: float | None
            try:
                resp = send()
            except httpx.ConnectError as exc:
                if _is_dns_failure(exc) or attempt >= len(delays):
                    raise _unreachable(host, exc) from None
                wait = delays[attempt]
            except httpx.TimeoutException as exc:
                if attempt >= len(delays):
                    raise SourceError(
                        f"{host} did not answer within {self.settings.timeout:g} s "
                        f"({attempt + 1} attempts; {exc.__class__.__name__}). Try again later "
                        "or raise the timeout.") from None
                wait = delays[attempt]
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                if attempt >= len(delays):
                    raise SourceError(
                        f"the connection to {host} broke off ({exc.__class__.__name__}: {exc}) "
                        f"after {attempt + 1} attempts; try again later") from None
                wait = delays[attempt]
            else:
                if resp.status_code in RETRY_STATUS and attempt < len(delays):
                    ra = self._retry_after(resp)
                    wait = delays[attempt] if ra is None else ra
                    resp.close()
                else:
                    return resp
            attempt += 1
            self.sleep(wait)

    def _check(self, request: Request, resp: httpx.Response) -> None:
        if resp.status_code >= 400:
            body = _snippet(resp)
            raise SourceError(
                f"{request.host} answered HTTP {resp.status_code} "
                f"{resp.reason_phrase or ''} for {request.full_url}"
                + (f": {body}" if body else ""))

    # -- requests ----------------------------------------------------------------------
    def get(self, request: Request, *, rate: float | None = None) -> bytes:
        """GET ``request`` (with retries) and return the body.

        Raises
        ------
        SourceUnreachableError
            When the host cannot be reached.
        SourceError
            On an HTTP error status after the retries.
        """

        def send() -> httpx.Response:
            return self.client.get(request.url, params=list(request.params) or None,
                                   headers=dict(request.headers))

        resp = self._attempts(request, rate, send)
        self.sent.append(str(resp.request.url) if resp.request is not None else request.full_url)
        if resp.status_code not in request.accept_status:
            self._check(request, resp)
        content = resp.content
        self.digest.update(content)
        return content

    def download(self, request: Request, dest: Path, *, rate: float | None = None,
                 progress: Callable[[int, int | None], None] | None = None) -> Path:
        """Download ``request`` to ``dest``, resuming a partial download.

        The bytes go to ``dest.part``; its validator (``ETag`` or ``Last-Modified``) is
        kept in ``dest.part.json``. A later call asks only for the missing bytes
        (``Range``) and sends the validator as ``If-Range``, so a file changed on the
        server is downloaded afresh instead of being spliced. A broken connection is
        retried (with back-off) from where it stopped. On success ``dest.part`` is
        renamed to ``dest``.

        Parameters
        ----------
        progress : callable, optional
            ``progress(bytes_so_far, total_or_None)`` after every chunk.
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        meta_path = dest.with_name(dest.name + ".part.json")
        host = request.host
        delays = backoff_delays(self.settings)
        failures = 0
        while True:
            have = part.stat().st_size if part.exists() else 0
            meta = {}
            if have and meta_path.exists():
                try:
                    meta = json.loads(meta_path.read_text("utf-8"))
                except ValueError:
                    meta = {}
            validator = meta.get("etag") or meta.get("last_modified")
            headers = dict(request.headers)
            headers["Accept-Encoding"] = "identity"  # byte ranges must address stored bytes
            if have and validator:
                headers["Range"] = f"bytes={have}-"
                headers["If-Range"] = validator
            elif have:  # no validator: cannot safely resume
                part.unlink()
                have = 0
            self._pace(host, rate)
            try:
                with self.client.stream("GET", request.url, params=list(request.params) or None,
                                        headers=headers) as resp:
                    if resp.status_code == 416:  # our range is past the end: start again
                        part.unlink(missing_ok=True)
                        meta_path.unlink(missing_ok=True)
                        failures += 1
                        if failures > len(delays):
                            raise SourceError(f"{host} refused to resume the download of "
                                              f"{request.full_url} (HTTP 416)")
                        continue
                    if resp.status_code in RETRY_STATUS and failures < len(delays):
                        ra = self._retry_after(resp)
                        self.sleep(delays[failures] if ra is None else ra)
                        failures += 1
                        continue
                    if resp.status_code >= 400:
                        resp.read()
                        self._check(request, resp)
                    if resp.status_code == 206:
                        start = _content_range_start(resp.headers.get("Content-Range"))
                        if start != have:
                            raise SourceError(f"{host} sent bytes from {start} when asked for "
                                              f"bytes from {have}; delete {part} and retry")
                        mode = "ab"
                        total = _content_range_total(resp.headers.get("Content-Range"))
                    else:  # 200: the whole file (fresh, or changed on the server)
                        mode, have = "wb", 0
                        length = resp.headers.get("Content-Length")
                        total = int(length) if length and length.isdigit() else None
                    new_meta = {"url": request.full_url,
                                "etag": resp.headers.get("ETag"),
                                "last_modified": resp.headers.get("Last-Modified")}
                    meta_path.write_text(json.dumps(new_meta), "utf-8")
                    with part.open(mode) as fh:
                        for chunk in resp.iter_bytes():  # as received: nothing buffered is lost
                            fh.write(chunk)
                            have += len(chunk)
                            if progress is not None:
                                progress(have, total)
                    self.sent.append(str(resp.request.url))
            except httpx.ConnectError as exc:
                if _is_dns_failure(exc) or failures >= len(delays):
                    raise _unreachable(host, exc) from None
                self.sleep(delays[failures])
                failures += 1
                continue
            except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                if failures >= len(delays):
                    raise SourceError(
                        f"the download from {host} broke off ({exc.__class__.__name__}) after "
                        f"{failures + 1} attempts; {have} bytes are kept in {part} and the next "
                        "fetch resumes from there") from None
                self.sleep(delays[failures])
                failures += 1
                continue
            if total is not None and have < total:
                if failures >= len(delays):
                    raise SourceError(f"the download from {host} stopped at {have} of {total} "
                                      f"bytes; the next fetch resumes from there")
                self.sleep(delays[failures])
                failures += 1
                continue
            part.replace(dest)
            meta_path.unlink(missing_ok=True)
            h = hashlib.sha256()
            with dest.open("rb") as fh:
                for chunk in iter(lambda: fh.read(_CHUNK), b""):
                    h.update(chunk)
            self.digest.update(h.digest())
            return dest


def _content_range_start(value: str | None) -> int | None:
    # "bytes 100-199/200"
    if not value or not value.startswith("bytes "):
        return None
    try:
        return int(value[6:].split("-", 1)[0])
    except ValueError:
        return None


def _content_range_total(value: str | None) -> int | None:
    if not value or "/" not in value:
        return None
    tail = value.rsplit("/", 1)[1]
    return int(tail) if tail.isdigit() else None
