"""Builds the safety service from config."""

from __future__ import annotations

from services.kit.config import ServiceConfig
from services.kit.server import Service, contract_only
from teei.safety.v1 import safety_pb2, safety_pb2_grpc

NAME = "safety"


def build(config: ServiceConfig) -> Service:
    """The safety contract, served with health and reflection; its behaviour lands with the domain work."""
    return contract_only(NAME, config, safety_pb2, safety_pb2_grpc, "SafetyService")
