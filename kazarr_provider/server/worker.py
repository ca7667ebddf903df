"""The gunicorn worker class `kazarr-provider serve` runs: threads, with slow and stalled clients bounded;
and the master's hook for a worker that exits."""
from __future__ import annotations


def slow_client_worker(read_timeout: float):
    """gunicorn's threaded worker (`gthread`), with slow and stalled clients bounded.

    What gunicorn 27's gthread does on its own: every accepted connection goes to a thread, which waits
    up to 5 s for a first byte, then reads the request from a blocking socket with no timeout. A client
    that sends half a request line, or less body than it announced, holds that thread until it hangs up
    (the worker `timeout` only watches the worker's event loop, never one request). And a connection it
    closes after an answer is closed "gracefully" on the event loop itself, which waits up to 2 s for the
    client to close first: a client that keeps the socket open stalls every connection of the worker.

    Here, instead:
    * a new connection, and a kept-alive one once its next request starts, waits in the worker's event
      loop (no thread) until its request line and headers have arrived, and is dropped when that takes
      more than `read_timeout` seconds: idle and trickling clients cost a socket, not a thread;
    * in the thread, reading the body waits at most `read_timeout` seconds for each piece: past that the
      application's read raises RequestTimeout (it answers 408) and the connection is closed;
    * a connection is closed without waiting for the client (half-close, take what already arrived so
      the kernel does not reset the answer, close).
    """
    import errno
    import selectors
    import socket
    import time
    from functools import partial

    from gunicorn import util
    from gunicorn.http.unreader import SocketUnreader
    from gunicorn.workers.gthread import TConn, ThreadWorker
    from werkzeug.exceptions import RequestTimeout

    head_cap = 64 * 1024      # buffered head beyond which gunicorn's parser takes over (and applies its limits)

    class Conn(TConn):
        def __init__(self, *args):
            super().__init__(*args)
            self.head = bytearray()      # request bytes received by the event loop, not yet parsed
            self.deadline = None         # when the request head must be in; None while a body is read
            self.expired = False         # a read timed out: the request is over, and so is the connection

        def close(self, graceful=False):
            if graceful:
                try:
                    self.sock.shutdown(socket.SHUT_WR)
                    self.sock.setblocking(False)
                    for _ in range(16):
                        if not self.sock.recv(65536):
                            break
                except OSError:          # nothing more to read now (or the client is gone)
                    pass
            util.close(self.sock)

    class Unreader(SocketUnreader):
        """Socket reads bounded in time: the request head by the connection's deadline, each body read
        by `read_timeout`."""

        def __init__(self, conn):
            super().__init__(conn.sock)
            self.conn = conn

        def chunk(self, size_hint=None):
            conn = self.conn
            if conn.expired:
                return b''
            prior = self.sock.gettimeout()     # None (blocking), or gunicorn's own bound while it drains a body
            wait = read_timeout if conn.deadline is None else conn.deadline - time.monotonic()
            if prior is not None:
                wait = min(wait, prior)
            try:
                if wait <= 0:
                    raise TimeoutError
                self.sock.settimeout(wait)
                return super().chunk(size_hint)
            except TimeoutError:
                conn.expired = True
                if prior is not None:
                    raise                      # gunicorn gives up draining, and closes
                if conn.deadline is not None:
                    return b''                 # the head never came whole: closed without an answer
                # the application was reading the body: it answers 408 (never a request cut short)
                raise RequestTimeout(f'the request body stopped arriving for {read_timeout:g} s') from None
            finally:
                self.sock.settimeout(prior)

    class SlowClientThreadWorker(ThreadWorker):
        def accept(self, listener):
            try:
                sock, client = listener.accept()
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                    raise
                return
            self.nr_conns += 1
            self._await_head(Conn(self.cfg, sock, client, listener.getsockname()))

        def on_client_socket_readable(self, conn, client):
            # a kept-alive connection starts its next request: that head is awaited here too
            self.poller.unregister(client)
            self.keepalived_conns.remove(conn)
            self._await_head(conn)

        def _await_head(self, conn):
            # gunicorn's own list of connections waiting for data: it closes them at `conn.timeout`
            conn.deadline = conn.timeout = time.monotonic() + read_timeout
            self.pending_conns.append(conn)
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_head_bytes, conn))

        def _on_head_bytes(self, conn, client):
            try:
                data = conn.sock.recv(8192)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b''
            if data:
                start = max(len(conn.head) - 2, 0)
                conn.head += data
                whole = conn.head.find(b'\n\r\n', start) >= 0 or conn.head.find(b'\n\n', start) >= 0
                if not whole and len(conn.head) < head_cap:
                    return
            self.poller.unregister(client)
            self.pending_conns.remove(conn)
            if not data:                 # the client left
                self.nr_conns -= 1
                conn.close()
                return
            conn.data_ready = True
            self.enqueue_req(conn)

        def handle(self, conn):
            if not conn.initialized:
                conn.init()              # the HTTP/1 parser (no TLS, no HTTP/2 here): no I/O yet
                conn.parser.unreader = Unreader(conn)
            if conn.head:
                conn.parser.unreader.unread(bytes(conn.head))
                conn.head.clear()
            if conn.deadline is None:    # a request pipelined behind the last one
                conn.deadline = time.monotonic() + read_timeout
            keep = super().handle(conn)
            return False if conn.expired else keep

        def handle_request(self, req, conn):
            conn.deadline = None         # the head is in; from here each body read may wait read_timeout
            return super().handle_request(req, conn)

        def init_process(self):
            # the errors gunicorn answers before the application runs (request line or headers too long,
            # not HTTP): JSON like every other error of this server, not gunicorn's HTML page
            util.write_error = write_json_error
            super().init_process()

    return SlowClientThreadWorker


def child_exit(server, worker):
    """gunicorn's `child_exit` hook (in the master): the worker's live gauges leave the /metrics sums."""
    from ..metrics import mark_worker_dead
    mark_worker_dead(worker.pid)


def write_json_error(sock, status_int: int, reason: str, message: str):
    """gunicorn's `util.write_error`, with our `{code, description}` JSON body."""
    import json

    from gunicorn import util
    body = json.dumps({'code': reason.replace(' ', ''),
                       'description': f'{reason}: {message}' if message else reason}).encode()
    head = (f'HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n'
            f'Content-Length: {len(body)}\r\n\r\n').encode('latin1')
    util.write_nonblock(sock, head + body)
