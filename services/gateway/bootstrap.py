"""Builds the gateway service from config."""

from __future__ import annotations

from services.kit.config import ServiceConfig
from services.kit.server import Service, contract_only
from teei.gateway.v1 import gateway_pb2, gateway_pb2_grpc

NAME = "gateway"


def build(config: ServiceConfig) -> Service:
    """The gateway contract, served with health and reflection; its behaviour lands with the domain work."""
    return contract_only(NAME, config, gateway_pb2, gateway_pb2_grpc, "GatewayService")
