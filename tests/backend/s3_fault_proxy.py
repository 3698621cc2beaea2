"""An HTTP/1.1 proxy that puts real faults between an S3 client and server.

It sits between Tessera and the test RGW, reads each request off the client
connection, and either forwards it (request and response byte for byte, the
Host header unchanged, so RGW still checks the client's signature) or, when a
rule of the current script matches, answers it with a fault:

    503 / 500 / 429 / 403 / 404 / 400   an S3 <Error> response of that status
                                        (SlowDown, InternalError, ...), then
                                        the connection is closed
    "reset"                             forward, then send the first half of
                                        the real response and reset the
                                        connection (RST)
    "truncate"                          the same, but close cleanly (FIN)
                                        after half the response

Every request is logged (method, target, Host, what was done) so that a test
can count the attempts: a retried 503 shows up as several requests, a 403 that
must not be retried as exactly one.

As a module:

    proxy = FaultProxy(upstream_port)      # listens on 127.0.0.1:proxy.port
    proxy.set_rules([Rule("reset", method="GET", times=1)])
    ...                                    # run the client
    proxy.log                              # [Request, ...]
    proxy.close()

Standalone (for trying things by hand):

    s3_fault_proxy.py UPSTREAM_PORT [LISTEN_PORT] [RULE...]
        RULE = ACTION[:TIMES[:METHOD[:REGEX]]], e.g. 503:2:GET  reset:1:PUT:partNumber
"""

import re
import socket
import struct
import sys
import threading
import time

ERRORS = {
    400: ("Bad Request", "InvalidPart", "One or more of the specified parts could not be found."),
    403: ("Forbidden", "AccessDenied", "Access Denied"),
    404: ("Not Found", "NoSuchKey", "The specified key does not exist."),
    429: ("Too Many Requests", "SlowDown", "Please reduce your request rate."),
    500: ("Internal Server Error", "InternalError", "We encountered an internal error."),
    503: ("Service Unavailable", "SlowDown", "Please reduce your request rate."),
}


class Rule:
    """Fault ACTION for the next TIMES requests whose method equals METHOD
    (any when None) and whose request target matches the regex TARGET
    (searched; any when None)."""

    def __init__(self, action, times=1, method=None, target=None):
        if action not in ("reset", "truncate") and int(action) not in ERRORS:
            raise ValueError("unknown fault %r" % (action,))
        self.action = action
        self.times = times
        self.method = method
        self.target = re.compile(target) if target else None

    def matches(self, method, target):
        return (self.times > 0 and (self.method is None or self.method == method)
                and (self.target is None or self.target.search(target) is not None))

    def __repr__(self):
        return "Rule(%s x%d %s %s)" % (self.action, self.times, self.method,
                                      self.target.pattern if self.target else "*")


class Request:
    """One request the proxy saw, and what it did with it."""

    def __init__(self, method, target, host, action, status=None):
        self.method = method
        self.target = target
        self.host = host
        self.action = action  # "forward" or the fault
        self.status = status  # the status the client was sent (if it got one)

    def __repr__(self):
        return "%s %s (Host %s) -> %s %s" % (self.method, self.target, self.host,
                                             self.action, self.status)


class _Closed(Exception):
    pass


class _Conn:
    """A socket with a read buffer, for parsing HTTP messages."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise _Closed()
        self.buf += data

    def read_head(self):
        """The bytes up to and including the blank line; _Closed on EOF."""
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                head, self.buf = self.buf[:i + 4], self.buf[i + 4:]
                return head
            if len(self.buf) > 1 << 20:
                raise ValueError("header too long")
            self._fill()

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n") + 2
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def read_chunked(self):
        """A chunked body, returned as received (chunks and trailers)."""
        out = b""
        while True:
            line = self.read_line()
            out += line
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:  # trailers up to the blank line
                    line = self.read_line()
                    out += line
                    if line == b"\r\n":
                        return out
            out += self.read_exact(size + 2)

    def read_to_eof(self):
        try:
            while True:
                self._fill()
        except _Closed:
            pass
        data, self.buf = self.buf, b""
        return data


def _parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    first = lines[0]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return first, headers


def _read_body(conn, headers):
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return conn.read_chunked()
    n = int(headers.get("content-length", "0") or 0)
    return conn.read_exact(n)


class FaultProxy:
    def __init__(self, upstream_port, listen_port=0, upstream_host="127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.lock = threading.Lock()
        self.rules = []
        self.log = []
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", listen_port))
        self.srv.listen(64)
        self.port = self.srv.getsockname()[1]
        self.closing = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    # -- control ---------------------------------------------------------------

    def set_rules(self, rules):
        """Replace the script and clear the log."""
        with self.lock:
            self.rules = list(rules)
            self.log = []

    def requests(self):
        with self.lock:
            return list(self.log)

    def unused_rules(self):
        with self.lock:
            return [r for r in self.rules if r.times > 0]

    def close(self):
        self.closing = True
        try:
            self.srv.close()
        except OSError:
            pass

    # -- serving ---------------------------------------------------------------

    def _accept(self):
        while not self.closing:
            try:
                sock, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _decide(self, method, target):
        with self.lock:
            for rule in self.rules:
                if rule.matches(method, target):
                    rule.times -= 1
                    return rule.action
        return "forward"

    def _record(self, req):
        with self.lock:
            self.log.append(req)

    def _serve(self, sock):
        client = _Conn(sock)
        upstream = None
        try:
            while True:
                try:
                    head = client.read_head()
                except _Closed:
                    return
                first, headers = _parse_head(head)
                method, target = first.split(" ")[0], first.split(" ")[1]
                action = self._decide(method, target)
                req = Request(method, target, headers.get("host"), action)
                self._record(req)
                expect = headers.get("expect", "").lower() == "100-continue"
                if action not in ("forward", "reset", "truncate"):
                    # Answer without asking for the body of an Expect:
                    # 100-continue request, and close: the client cannot reuse
                    # the connection.  A body already on its way is read
                    # first, else closing with unread data would reset the
                    # connection before the client reads the answer.
                    if not expect:
                        _read_body(client, headers)
                    req.status = int(action)
                    self._send_error(sock, int(action), method, target)
                    return
                if expect:
                    sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                body = _read_body(client, headers)
                if upstream is None:
                    upstream = _Conn(socket.create_connection(self.upstream))
                upstream.sock.sendall(head + body)
                resp, status, close = self._read_response(upstream, method)
                req.status = status
                if action == "forward":
                    sock.sendall(resp)
                    if close:
                        return
                    continue
                # reset / truncate: half the real response, then the fault
                sock.sendall(resp[:max(1, len(resp) // 2)])
                if action == "reset":
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                return
        except (_Closed, OSError, ValueError):
            return
        finally:
            sock.close()
            if upstream is not None:
                upstream.sock.close()

    def _read_response(self, upstream, method):
        """The upstream's final response (interim 1xx dropped: the client got
        its 100 Continue from us) as bytes, its status, and whether the
        connection ends with it."""
        while True:
            head = upstream.read_head()
            first, headers = _parse_head(head)
            status = int(first.split(" ")[1])
            if 100 <= status < 200:
                continue
            close = headers.get("connection", "").lower() == "close"
            if method == "HEAD" or status in (204, 304):
                body = b""
            elif ("chunked" in headers.get("transfer-encoding", "").lower()
                  or "content-length" in headers):
                body = _read_body(upstream, headers)
            else:
                body = upstream.read_to_eof()
                close = True
            return head + body, status, close

    def _send_error(self, sock, status, method, target):
        reason, code, message = ERRORS[status]
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                "<Message>%s</Message><Resource>%s</Resource>"
                "<RequestId>fault-proxy</RequestId></Error>" % (code, message, target)).encode()
        head = ("HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\n"
                "Content-Length: %d\r\nConnection: close\r\n"
                "x-amz-request-id: fault-proxy\r\n" % (status, reason, len(body)))
        if status == 503 or status == 429:
            head += "Retry-After: 0\r\n"
        sock.sendall((head + "\r\n").encode() + (b"" if method == "HEAD" else body))


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    upstream = int(argv[1])
    listen = int(argv[2]) if len(argv) > 2 else 0
    rules = []
    for spec in argv[3:]:
        parts = spec.split(":", 3) + [None] * 3
        rules.append(Rule(parts[0], int(parts[1] or 1), parts[2] or None, parts[3]))
    proxy = FaultProxy(upstream, listen)
    proxy.set_rules(rules)
    print("proxy on 127.0.0.1:%d -> 127.0.0.1:%d, rules %s" % (proxy.port, upstream, rules),
          flush=True)
    seen = 0
    try:
        while True:
            time.sleep(0.2)
            log = proxy.requests()
            for r in log[seen:]:
                print(r, flush=True)
            seen = len(log)
    except KeyboardInterrupt:
        proxy.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
