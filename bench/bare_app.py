"""The floor for the online benchmark: FastAPI on uvicorn answering a constant."""

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Request(BaseModel):
    customer_id: str


@app.post("/predict")
async def predict(request: Request) -> dict[str, object]:
    return {"customer_id": request.customer_id, "churn_probability": 0.5}
