"""What every resource of the worker's HTTP API shares: views bound to the wiring, the one
bearer-token check, bounded JSON bodies and the audited creation of silences and exclusions."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from faust.web import View
from pydantic import BaseModel, ValidationError

from streams.http.auth import approver
from streams.runtime.agents.gate import audit
from streams.runtime.wiring import Wiring

MAX_BODY = 16 * 1024  # bytes accepted in a request body

M = TypeVar("M", bound=BaseModel)
Handler = Callable[..., Awaitable[Any]]


class Resource(View):
    """A view with the worker's wiring and the API tokens (set by ``mount``)."""

    w: Wiring
    tokens: Mapping[str, str]


def mount(w: Wiring, tokens: Mapping[str, str], path: str, view: type[Resource]) -> None:
    """Serve ``view`` at ``path``, bound to this worker."""
    bound = type(view.__name__, (view,), {"w": w, "tokens": tokens})
    w.app.page(path)(bound)


def unknown(view: Resource, what: str, ident: str, known: list[str] | None = None) -> Any:
    """The one answer for an id the worker does not know: 404, ``unknown <what> '<id>'``, and
    the ids it does know where listing them helps (SLOs and services; not silences)."""
    body: dict[str, Any] = {"error": f"unknown {what} {ident!r}"}
    if known is not None:
        body["known"] = known
    return view.json(body, status=404)


def token_required(handler: Handler) -> Handler:
    """A write handler that runs only for a valid bearer token; it gets the approver's name
    (``who``, for the audit record) after the request. Anything else: 401, nothing changes."""

    @functools.wraps(handler)
    async def guarded(self: Resource, request: Any, **kwargs: Any) -> Any:
        who = approver(request.headers.get("Authorization"), self.tokens)
        if who is None:
            return self.json({"error": "a valid bearer token is required"}, status=401)
        return await handler(self, request, who, **kwargs)

    return guarded


async def read_json(request: Any, model: type[M]) -> M:
    """The request body as ``model``; ValueError with a one-line reason (size capped)."""
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ValueError(f"body over {MAX_BODY} bytes")
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"{where}: {err['msg']}" if where else err["msg"]) from None


@dataclass(frozen=True)
class Creation:
    """How one kind of item (a silence, an exclusion) is made from a request body, published
    to every worker, audited and shown."""

    what: str
    model: type[Any]
    make: Callable[[Any, str, float], Any]
    publish: Callable[[Wiring, Any], Awaitable[None]]
    audited: Callable[[Any, str, float], dict[str, Any]]
    show: Callable[[Any, float], dict[str, Any]]

    async def create(self, view: Resource, request: Any, who: str) -> Any:
        """201 with what was made, 400 with the reason when the body is not one."""
        now = time.time()
        try:
            item = self.make(await read_json(request, self.model), who, now)
        except ValueError as e:
            return view.json({"error": f"invalid {self.what}: {e}"}, status=400)
        await self.publish(view.w, item)
        await audit(view.w, self.audited(item, who, now))
        return view.json(self.show(item, now), status=201)
