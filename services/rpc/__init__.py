"""The gRPC front of the API (proto package ``jobskills.v1``, ``src/jobskills/v1/jobskills.proto``).

``server`` relays each RPC to the HTTP API service, with health checking and reflection;
``convert`` maps messages to REST bodies and HTTP status to gRPC status. Nothing is imported
here, so ``services.rpc.convert`` can be used without the generated code.
"""
