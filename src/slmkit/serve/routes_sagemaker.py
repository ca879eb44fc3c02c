"""SageMaker's container contract on top of the OpenAI routes (``slm serve --sagemaker``):
``GET /ping`` answers 200 once the model is loaded (503 before), and ``POST /invocations``
is a chat completion (``messages``) or a text completion (``prompt``) with the served
model as the default — streamed as SSE when the body says ``"stream": true``, which
``InvokeEndpointWithResponseStream`` passes through as payload parts.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from slmkit.serve import protocol_openai as oa
from slmkit.serve import routes_openai

router = APIRouter()


@router.get("/ping")
async def ping(request: Request):
    """200 when the model is loaded: SageMaker sends traffic only then."""
    readiness = request.app.state.readiness
    if readiness.ready:
        return Response(status_code=200)
    return JSONResponse({"status": "failed" if readiness.error else "loading"}, status_code=503)


@router.post("/invocations")
async def invocations(request: Request):
    """A chat or text completion request, as on /v1/chat/completions or /v1/completions."""
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError:
        raise RequestValidationError([{"loc": ("body",), "msg": "the body is not JSON",
                                       "type": "json_invalid"}]) from None
    if not isinstance(data, dict):
        raise RequestValidationError([{"loc": ("body",), "msg": "the body must be a JSON "
                                       "object", "type": "dict_type"}])
    data.setdefault("model", request.app.state.sagemaker_model)
    try:
        if "messages" not in data and "prompt" in data:
            return await routes_openai.completions(oa.CompletionRequest.model_validate(data),
                                                   request)
        body = oa.ChatCompletionRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    return await routes_openai.chat_completions(body, request)
