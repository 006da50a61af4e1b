"""A target that answers /healthz and then misbehaves on /api/* (see README.md)."""
import http.server
import json
import os
import sys
import threading
import time

MODE = sys.argv[1]
LIMIT = int(sys.argv[2]) if len(sys.argv) > 2 else 0
count = 0
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        global count
        if self.path == "/healthz":
            return self.answer(200, b"ok")
        with lock:
            count += 1
            n = count
        if MODE == "hang":
            time.sleep(3600)
        if MODE == "die-after" and n > LIMIT:
            sys.stderr.write(f"fatal: out of file descriptors after {LIMIT} requests\n")
            sys.stderr.flush()
            os._exit(3)
        if MODE in ("accept", "die-after"):
            # Accepts any token, for whichever tenant the request names.
            tenant = json.dumps(self.headers.get("X-Tenant-Slug", ""))
            return self.answer(200, b'{"tenant":' + tenant.encode() + b',"claims":{}}')
        if MODE == "c1-challenge":
            # U+009B (CSI) in UTF-8: kept as one character in reports, escaped on the console.
            return self.answer(401, b"", 'Bearer error="invalid_token", error_description="\u009b31m"')
        self.answer(401, b"", 'Bearer error="invalid_token"')

    do_POST = do_GET

    def answer(self, status, body, challenge=None):
        self.send_response(status)
        if challenge:
            # Header bytes as UTF-8 (http.server would write Latin-1).
            self._headers_buffer.append(b"WWW-Authenticate: " + challenge.encode("utf-8") + b"\r\n")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["BYOID_PORT"])), Handler).serve_forever()
