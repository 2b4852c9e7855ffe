"""The online prediction API (`fti serve`): churn probability for a customer id, in one hop.

Features come from the online store (never the live warehouse), the model is the registry's
``champion``; both are picked up without a restart when they change (see
``ml.inference.online_serving``).
Request data never reaches SQL text: ids are validated here and bound as parameters.
"""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from ml.common import customer_ids, settings, threads
from ml.common.errors import FtiError
from ml.common.settings import Paths
from ml.common.settings import paths as resolve_paths
from ml.inference.online_serving import MAX_BATCH, Prediction, Predictor
from ml.monitoring.prediction_log import PredictionLogger, error_record, log_folder

# A batch of MAX_BATCH of the longest ids is under 8 KB of JSON; anything larger is refused
# before it is read into memory.
MAX_BODY_BYTES = 16 * 1024


class RefusalLog:
    """Log each refused prediction request (unknown customer, bad input, body too large, not
    ready) with its status: the service's error rate is part of its monitoring. Plain ASGI,
    like ``BodySizeLimit``: it only watches the response's start message."""

    def __init__(self, app, logger: PredictionLogger) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/predict"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def watch(message) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                elapsed = (time.perf_counter() - started) * 1000.0
                self.logger.log(error_record(message["status"], scope["path"], elapsed))
            await send(message)

        await self.app(scope, receive, watch)


class BodySizeLimit:
    """Answer 413 to a request body over ``limit`` bytes, declared or streamed.

    Plain ASGI rather than an HTTP middleware: the body (bounded, so small) is read here and
    handed on in one message, without a task per request.
    """

    def __init__(self, app, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            if len(body) > self.limit:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        delivered = False

        async def replay():
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send) -> None:
        body = b'{"detail":"request body over ' + str(self.limit).encode() + b' bytes"}'
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _customer_id(raw: str) -> str:
    """The id as ingestion stored it (``ml.common.customer_ids``), or a 422 saying why not."""
    normalized = customer_ids.normalize(raw)
    problem = customer_ids.problem(normalized)
    if problem is not None:
        raise ValueError(problem)
    return normalized


# Every id ingestion accepts, normalized the same way; bound as a parameter, never spliced.
CustomerId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=4 * customer_ids.MAX_LENGTH),
    AfterValidator(_customer_id),
]


AS_OF = Field(
    default=None,
    description="The time the prediction is for (ISO 8601; default: now). On-demand features "
    "such as the days since the last purchase are computed as of it.",
)


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: CustomerId | StrictInt = Field(
        description="The customer's id as in the transaction log (text, or an integer)."
    )
    as_of: datetime | None = AS_OF


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_ids: list[CustomerId | StrictInt] = Field(
        min_length=1, max_length=MAX_BATCH, description=f"1 to {MAX_BATCH} customer ids."
    )
    as_of: datetime | None = AS_OF


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


class PredictionResponse(BaseModel):
    customer_id: str
    churn_probability: float = Field(description="Probability of no purchase in 90 days.")
    risk_band: str = Field(description="low (< 0.3), medium (< 0.6) or high.")
    model_version: str
    variant: str = Field(description="champion, or challenger for its share of customers")
    as_of: str = Field(description="The time the prediction is for (UTC).")
    feature_versions: dict[str, str] = Field(description="view -> v<version>:<fingerprint>")
    features_as_of: dict[str, str] = Field(description="view -> latest event time stored")
    request_id: str


class BatchResponse(BaseModel):
    predictions: list[PredictionResponse]


class ErrorResponse(BaseModel):
    detail: str


_NOT_READY = {503: {"model": ErrorResponse, "description": "No model or online store yet."}}
_ERRORS = {
    404: {"model": ErrorResponse, "description": "Unknown customer id(s)."},
    413: {"model": ErrorResponse, "description": f"Body over {MAX_BODY_BYTES} bytes."},
    **_NOT_READY,
}


def _response(prediction: Prediction) -> PredictionResponse:
    return PredictionResponse(**prediction.__dict__)


def create_app(
    paths: Paths | None = None,
    refresh_seconds: float = 1.0,
    challenger_share: float | None = None,
) -> FastAPI:
    """The app; ``challenger_share`` defaults to FTI_CHALLENGER_SHARE (0: champion only)."""
    threads.limit_for_serving()
    paths = paths or resolve_paths()
    if challenger_share is None:
        challenger_share = settings.challenger_share()
    predictor = Predictor(
        paths,
        refresh_seconds=refresh_seconds,
        challenger_share=challenger_share,
        logger=PredictionLogger(log_folder(paths)),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        predictor.start()
        yield
        predictor.stop()

    app = FastAPI(
        title="FTI churn prediction API",
        description="Churn probability by customer id, from the online feature store and the "
        "registry's champion model.",
        version="1",
        lifespan=lifespan,
    )
    app.state.predictor = predictor
    app.add_middleware(BodySizeLimit)
    app.add_middleware(RefusalLog, logger=predictor.logger)

    @app.exception_handler(FtiError)
    async def fti_error(request: Request, exc: FtiError) -> JSONResponse:
        """Every error the system raises for a user carries its own HTTP status."""
        return JSONResponse(status_code=exc.http_status, content={"detail": exc.message})

    def run(ids: list[str], as_of: datetime | None) -> list[Prediction]:
        return predictor.predict(ids, _utc(as_of))

    # CPU-bound work of about a millisecond: run on the event loop, not in a thread pool.
    @app.post("/predict", response_model=PredictionResponse, responses=_ERRORS)
    async def predict(request: PredictRequest) -> PredictionResponse:
        """Churn probability of one customer."""
        return _response(run([str(request.customer_id)], request.as_of)[0])

    @app.post("/predict/batch", response_model=BatchResponse, responses=_ERRORS)
    async def predict_batch(request: BatchRequest) -> BatchResponse:
        """Churn probabilities of up to MAX_BATCH customers, in request order."""
        ids = [str(i) for i in request.customer_ids]
        return BatchResponse(predictions=[_response(p) for p in run(ids, request.as_of)])

    @app.get("/health")
    async def health() -> dict[str, object]:
        """Whether a model and an online store are being served (never an error status)."""
        return predictor.health()

    @app.get("/model", responses=_NOT_READY)
    async def model() -> dict[str, object]:
        """The served model version, its input columns and the feature versions in use."""
        return predictor.describe()

    return app
