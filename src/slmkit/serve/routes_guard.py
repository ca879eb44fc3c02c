"""The privacy guard over HTTP: ``/v1/guard/scan``, ``/mask``, ``/unmask`` and
``DELETE /v1/guard/conversations/{id}``. The guard service is found on
``request.app.state.guard`` (the CLI wires ``slmkit.guard.service.GuardService`` in).

Vaults belong to the caller: the service is given a digest of the API key the request
presented (the key itself is never kept), so one key cannot read or extend another key's
conversations. Conversation ids are the server's: ``mask`` without one starts a new
conversation and returns its id; an id the caller did not get from ``mask`` is a 404. On a
keyless server the id, 144 random bits, is the only capability: keep it private."""

from __future__ import annotations

import hashlib

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from slmkit.serve.auth import presented_key
from slmkit.util.lazy import resolve

router = APIRouter()
MAX_ID = 128


class ScanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    show_values: bool = False


class MaskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    conversation_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID)


class UnmaskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    conversation_id: str = Field(min_length=1, max_length=MAX_ID)


def _guard(request: Request):
    return resolve(request.app.state.guard)  # `slm serve` builds it on first use


def owner(request: Request) -> str:
    """Who owns the vaults this request may use: a digest of its API key ("" without)."""
    key = presented_key(request.scope["headers"])
    if not key or not key.strip():
        return ""
    return hashlib.sha256(b"slmkit-guard-vault\0" + key.strip().encode()).hexdigest()


@router.post("/v1/guard/scan")
async def scan(body: ScanRequest, request: Request):
    return await anyio.to_thread.run_sync(
        lambda: _guard(request).scan(body.text, show_values=body.show_values))


@router.post("/v1/guard/mask")
async def mask(body: MaskRequest, request: Request):
    who = owner(request)
    return await anyio.to_thread.run_sync(
        lambda: _guard(request).mask(body.text, conversation_id=body.conversation_id,
                                     owner=who))


@router.post("/v1/guard/unmask")
async def unmask(body: UnmaskRequest, request: Request):
    who = owner(request)
    return await anyio.to_thread.run_sync(
        lambda: _guard(request).unmask(body.text, conversation_id=body.conversation_id,
                                       owner=who))


@router.delete("/v1/guard/conversations/{conversation_id}")
async def forget(conversation_id: str, request: Request):
    return _guard(request).forget(conversation_id, owner=owner(request))
