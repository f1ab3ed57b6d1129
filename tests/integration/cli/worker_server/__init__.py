"""A small real grpc.aio server for the worker-group tests (server.py), run by __main__.py:
`python -m tests.integration.cli.worker_server`."""
