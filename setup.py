"""Build hook: generate the gRPC code from ``src/jobskills/v1/jobskills.proto``.

Everything else about the package is in ``pyproject.toml``. ``build_py`` runs for wheels and for
``pip install -e .`` alike (setuptools runs it in editable mode too), so the generated modules
``jobskills/v1/jobskills_pb2.py``, ``.pyi`` and ``jobskills_pb2_grpc.py`` are written next to the
``.proto`` in the source tree before the package is collected. They are never committed
(``.gitignore``): the ``.proto`` is the only source of truth.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SRC = Path(__file__).resolve().parent / "src"


class BuildPyWithProtos(build_py):
    """``build_py`` that first compiles every ``.proto`` under ``src/`` with grpcio-tools."""

    def run(self) -> None:
        from grpc_tools.command import build_package_protos

        build_package_protos(str(SRC), strict_mode=True)
        super().run()


setup(cmdclass={"build_py": BuildPyWithProtos})
