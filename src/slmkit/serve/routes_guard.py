"""The privacy guard over HTTP: ``/v1/guard/scan``, ``/mask``, ``/unmask`` and
``DELETE /v1/guard/conversations/{id}``. The guard service is found on
``request.app.state.guard`` (the CLI wires ``slmkit.guard.service.GuardService`` in)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

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
    return request.app.state.guard


@router.post("/v1/guard/scan")
async def scan(body: ScanRequest, request: Request):
    return await anyio.to_thread.run_sync(
        lambda: _guard(request).scan(body.text, show_values=body.show_values))


@router.post("/v1/guard/mask")
async def mask(body: MaskRequest, request: Request):
    return await anyio.to_thread.run_sync(
        lambda: _guard(request).mask(body.text, conversation_id=body.conversation_id))


@router.post("/v1/guard/unmask")
async def unmask(body: UnmaskRequest, request: Request):
    return await anyio.to_thread.run_sync(
        lambda: _guard(request).unmask(body.text, conversation_id=body.conversation_id))


@router.delete("/v1/guard/conversations/{conversation_id}")
async def forget(conversation_id: str, request: Request):
    return _guard(request).forget(conversation_id)
