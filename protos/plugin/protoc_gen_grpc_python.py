"""A protoc plugin that buf runs to generate Python code with grpcio-tools.

buf hands us a CodeGeneratorRequest holding every file descriptor (imports
included). We write those descriptors to a FileDescriptorSet, run the protoc
bundled in grpcio-tools against it with the python, pyi and grpc_python
generators, and return the files it wrote. That keeps generation offline and
pinned to the grpcio-tools version in requirements.txt.
"""

import os
import sys
import tempfile

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def main() -> int:
    """Answers the CodeGeneratorRequest on stdin with the generated service stubs on stdout."""
    request = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    response = plugin_pb2.CodeGeneratorResponse()
    response.supported_features = plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    with tempfile.TemporaryDirectory() as work:
        descriptor_set = os.path.join(work, "input.binpb")
        with open(descriptor_set, "wb") as fh:
            fh.write(descriptor_pb2.FileDescriptorSet(file=request.proto_file).SerializeToString())
        out = os.path.join(work, "out")
        os.mkdir(out)
        code = protoc.main(
            [
                "protoc",
                f"--descriptor_set_in={descriptor_set}",
                f"--python_out={out}",
                f"--pyi_out={out}",
                f"--grpc_python_out={out}",
                *request.file_to_generate,
            ]
        )
        if code != 0:
            response.error = f"grpc_tools.protoc exited with {code}"
        else:
            for root, _dirs, files in os.walk(out):
                for name in sorted(files):
                    path = os.path.join(root, name)
                    with open(path, encoding="utf-8") as fh:
                        response.file.add(name=os.path.relpath(path, out), content=fh.read())
    sys.stdout.buffer.write(response.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
