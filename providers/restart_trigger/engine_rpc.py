"""The two things both front doors say to the Pulumi engine over its supported protocol.

* :func:`fail_with_outputs`: end a Create/Update call as failed *with* the resource's
  outputs, so state keeps the restarts that happened (the provider protocol's
  ``ErrorResourceInitFailed`` detail, which the engine records with the error);
* :func:`log_sink`: progress lines on the trigger's row of ``pulumi up``
  (``pulumirpc.Engine/Log``, ephemeral: shown while it waits, not repeated in the
  diagnostics), or stderr (which the CLI shows too) when the engine cannot be reached.

The dynamic provider reaches the call's gRPC context through ``provider_server`` (guarded);
the resource plugin (``plugin/``) is handed it by gRPC. Neither imports pulumi at module load:
the generated stubs are imported when used.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any


class Status:
    """A ``grpc.Status``: code, details and the trailing metadata carrying the detail."""

    def __init__(self, code: Any, details: str, trailing_metadata: tuple) -> None:
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def rpc_status_bytes(code: int, message: str, details: list[Any]) -> bytes:
    """``google.rpc.Status`` (code = 1, message = 2, repeated Any details = 3), serialized as
    the ``grpc-status-details-bin`` trailer carries it. Encoded here because its generated
    class (googleapis-common-protos) is not a dependency of every pulumi release we support."""
    out = _varint(1 << 3 | 0) + _varint(code) + _field(2, message.encode())
    for detail in details:
        out += _field(3, detail.SerializeToString())
    return out


def init_failed_status(resource_id: str, properties: Any, reason: str) -> Status:
    """The status that fails a Create/Update with ``properties`` (a ``Struct``) as the
    resource's state and ``reason`` as the error."""
    import grpc
    from google.protobuf import any_pb2
    from pulumi.runtime.proto import provider_pb2

    detail = provider_pb2.ErrorResourceInitFailed(
        id=resource_id, properties=properties, reasons=[reason]
    )
    packed = any_pb2.Any()
    packed.Pack(detail)
    code = grpc.StatusCode.UNKNOWN
    trailer = rpc_status_bytes(code.value[0], reason, [packed])
    return Status(code, reason, (("grpc-status-details-bin", trailer),))


def fail_with_outputs(context: Any, resource_id: str, properties: Any, reason: str) -> None:
    """End the call served with gRPC ``context`` as failed, keeping ``properties`` as the
    resource's state (raises: gRPC answers the call with the status)."""
    context.abort_with_status(init_failed_status(resource_id, properties, reason))


_engine_lock = threading.Lock()
_engine_stubs: dict[str, Any] = {}


def _engine_stub(address: str) -> Any:
    with _engine_lock:
        stub = _engine_stubs.get(address)
        if stub is None:
            import grpc
            from pulumi.runtime.proto import engine_pb2_grpc

            stub = engine_pb2_grpc.EngineStub(grpc.insecure_channel(address))
            _engine_stubs[address] = stub
        return stub


def to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def log_sink(urn: str | None, address: str | None) -> Callable[[str], None]:
    """A progress-line sink: the engine's log at ``address`` under ``urn`` (ephemeral), else
    stderr."""
    if not urn or not address:
        return to_stderr

    def to_engine(line: str) -> None:
        try:
            from pulumi.runtime.proto import engine_pb2

            request = engine_pb2.LogRequest(
                severity=engine_pb2.INFO, message=line, urn=urn, ephemeral=True
            )
            _engine_stub(address).Log(request, timeout=10)
        except Exception:  # noqa: BLE001 - the line is not lost: stderr reaches the CLI too
            to_stderr(line)

    return to_engine


def log(address: str | None, urn: str, message: str, *, severity: str = "INFO") -> bool:
    """One diagnostic (not ephemeral: it stays in the CLI's Diagnostics section) under
    ``urn``; True if the engine took it."""
    if not address:
        return False
    try:
        from pulumi.runtime.proto import engine_pb2

        request = engine_pb2.LogRequest(
            severity=getattr(engine_pb2, severity), message=message, urn=urn, ephemeral=False
        )
        _engine_stub(address).Log(request, timeout=10)
        return True
    except Exception:  # noqa: BLE001 - a note never fails a call
        return False
