"""Builds the buddy service from config."""

from __future__ import annotations

from services.kit.config import ServiceConfig
from services.kit.server import Service, contract_only
from teei.buddy.v1 import buddy_pb2, buddy_pb2_grpc

NAME = "buddy"


def build(config: ServiceConfig) -> Service:
    """The buddy contract, served with health and reflection; its behaviour lands with the domain work."""
    return contract_only(NAME, config, buddy_pb2, buddy_pb2_grpc, "BuddyService")
