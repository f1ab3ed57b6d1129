"""Builds the kintell service from config."""

from __future__ import annotations

from services.kit.config import ServiceConfig
from services.kit.server import Service, contract_only
from teei.kintell.v1 import kintell_pb2, kintell_pb2_grpc

NAME = "kintell"


def build(config: ServiceConfig) -> Service:
    """The kintell contract, served with health and reflection; its behaviour lands with the domain work."""
    return contract_only(NAME, config, kintell_pb2, kintell_pb2_grpc, "KintellService")
