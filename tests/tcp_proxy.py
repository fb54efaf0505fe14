"""A TCP proxy in front of the test PostgreSQL server, to take the database away and bring it back without
touching the shared server: `stop()` refuses new connections and cuts the open ones, `start()` listens again
on the same port."""
from __future__ import annotations

import socket
import threading

from sqlalchemy.engine import make_url


class TcpProxy:
    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)):
        self.target = target
        self.port = 0  # chosen at the first start, kept afterwards
        self._listener: socket.socket | None = None
        self._accepting: threading.Thread | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def url(self, database_url: str) -> str:
        """`database_url` (a server's) through this proxy."""
        return make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    def start(self) -> TcpProxy:
        listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: the same port again at once
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._accepting.start()
        return self

    def stop(self) -> None:
        """Refuse from now on: the listening socket is closed for good once its thread has let go of it."""
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # Linux: stops listening at once
            except OSError:
                pass
            self._accepting.join()
            listener.close()
        with self._lock:
            connections, self._open = self._open, set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _address = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed by stop()
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()
