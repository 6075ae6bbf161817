"""moto's ThreadedMotoServer with its WSGI app wrapped by the emulator (moto imported lazily by the caller)."""

from __future__ import annotations

from typing import Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from migrate.sandbox.emulator import Emulator
from migrate.sandbox.limits import Quotas


class _EmulatedServer(ThreadedMotoServer):
    def __init__(self, port: int, emulator_args: dict[str, Any]) -> None:
        super().__init__(ip_address="127.0.0.1", port=port, verbose=False)
        self.emulator = Emulator(DomainDispatcherApplication(create_backend_app), **emulator_args)

    def _server_entry(self) -> None:
        self._server = make_server(self._ip_address, self._port, self.emulator, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def emulated_server(port: int, *, deploy_seconds: float, quotas: Quotas) -> tuple[Any, Emulator]:
    srv = _EmulatedServer(port, {"deploy_seconds": deploy_seconds, "quotas": quotas})
    return srv, srv.emulator
