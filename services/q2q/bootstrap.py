"""Builds the q2q service from config."""

from __future__ import annotations

from services.kit.config import ServiceConfig
from services.kit.server import Service, contract_only
from teei.q2q.v1 import q2q_pb2, q2q_pb2_grpc

NAME = "q2q"


def build(config: ServiceConfig) -> Service:
    """The q2q contract, served with health and reflection; its behaviour lands with the domain work."""
    return contract_only(NAME, config, q2q_pb2, q2q_pb2_grpc, "Q2qService")
