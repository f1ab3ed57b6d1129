"""Builds the upskilling service from config."""

from __future__ import annotations

from services.kit.config import ServiceConfig
from services.kit.server import Service, contract_only
from teei.upskilling.v1 import upskilling_pb2, upskilling_pb2_grpc

NAME = "upskilling"


def build(config: ServiceConfig) -> Service:
    """The upskilling contract, served with health and reflection; its behaviour lands with the domain work."""
    return contract_only(NAME, config, upskilling_pb2, upskilling_pb2_grpc, "UpskillingService")
