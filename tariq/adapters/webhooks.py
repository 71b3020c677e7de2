"""HTTP delivery of one signed notice to a hotel's server (contract section 5)."""

from __future__ import annotations

import aiohttp

from tariq.domain.notices import NOTICE_ID_HEADER, SIGNATURE_HEADER, sign


async def post_notice(
    session: aiohttp.ClientSession,
    url: str,
    secret: str,
    notice_id: str,
    body: bytes,
    timeout_s: float,
) -> str | None:
    """POST one notice; None when the hotel answered 2xx, otherwise why it failed."""
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, secret),
        NOTICE_ID_HEADER: notice_id,
        "User-Agent": "tariq-notices/1",
    }
    try:
        async with session.post(
            url,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            # A redirect is not a 2xx: following it could send the hotel's notices elsewhere.
            allow_redirects=False,
        ) as response:
            if 200 <= response.status < 300:
                return None
            return f"HTTP {response.status}"
    except TimeoutError:
        return f"no answer within {timeout_s:g} s"
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
