"""The Python floor: a grpc.aio ProfileService whose GetProfile answers a fixed profile with no database,
no auth and no interceptors, served with the mesh's mTLS identity of `profile` so the same edge filters
sit in front of it. Run as `python -m tests.load.trivial_servicer PORT MTLS_DIR`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.kit.security import mtls
from teei.profile.v1 import profile_pb2

SERVICE = "teei.profile.v1.ProfileService"


async def get_profile(request: profile_pb2.GetProfileRequest, _: object) -> profile_pb2.GetProfileResponse:
    """Echoes the asked id in a fixed profile."""
    profile = profile_pb2.Profile(profile_id=request.profile_id, email="floor@example.org")
    return profile_pb2.GetProfileResponse(profile=profile)


def handlers() -> grpc.GenericRpcHandler:
    """GetProfile only: every other method of the service answers UNIMPLEMENTED."""
    method = grpc.unary_unary_rpc_method_handler(
        get_profile,
        request_deserializer=profile_pb2.GetProfileRequest.FromString,
        response_serializer=profile_pb2.GetProfileResponse.SerializeToString,
    )
    return grpc.method_handlers_generic_handler(SERVICE, {"GetProfile": method})


async def serve(port: int, cert_dir: Path) -> None:
    """Serves until killed."""
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handlers(),))
    checks = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(checks, server)
    server.add_secure_port(f"127.0.0.1:{port}", mtls.server_credentials(cert_dir, "profile"))
    await server.start()
    await checks.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
    await checks.set("", health_pb2.HealthCheckResponse.SERVING)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), Path(sys.argv[2])))
