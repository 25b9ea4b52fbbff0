"""The gRPC contract, version 1 (proto package ``jobskills.v1``).

``jobskills.proto`` here is the source; ``jobskills_pb2`` (messages) and ``jobskills_pb2_grpc``
(``JobSkillsStub`` for clients, ``JobSkillsServicer`` for the server) are generated from it by
``pip install`` (``setup.py``), not written by hand. A client needs only this package and grpcio::

    import grpc
    from jobskills.v1 import jobskills_pb2 as pb, jobskills_pb2_grpc as rpc

    with grpc.insecure_channel("127.0.0.1:50051") as channel:
        answer = rpc.JobSkillsStub(channel).Extract(pb.ExtractRequest(text="Python and SQL"), timeout=30)
"""
