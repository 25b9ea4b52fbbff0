"""``python -m services.rpc``: the gRPC server beside a running HTTP API (the container entry point;
people use ``jobskills serve --grpc-port`` or ``jobskills serve-grpc``)."""

from services.rpc.server import main

main()
