"""Routes: server_metadata (being written)."""

from fastapi import APIRouter

router = APIRouter()
