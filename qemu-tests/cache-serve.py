#!/usr/bin/python3
"""cache-serve.py: the QEMU tests' HTTP binary-cache server (Python stdlib only).

Serves the files of DIR read-only over HTTP/1.1 (keep-alive) on 127.0.0.1 and
logs every response to --log, one line each, flushed at once, so a test can
count what the guest fetched and act in the middle of a download:
    start <unix-time> GET <path> <status> <length>
    sent <unix-time> <path> <bytes so far>          (every 256 KiB of a body)
    done <unix-time> GET <path> <status> <bytes sent>
    abort <unix-time> GET <path> <status> <bytes sent> <why>
--rate BYTES limits each response body to about BYTES per second (0: no
limit), so a test can cut the power while a NAR is on the wire.

Usage: cache-serve.py --dir DIR [--port 0] [--port-file F] [--log F] [--rate N]
The port (0 = any free one) is written to --port-file once listening.
"""
import argparse
import http.server
import os
import socket
import socketserver
import sys
import threading
import time

CHUNK = 64 * 1024
SENT_EVERY = 256 * 1024


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_handler(root, rate, logf, lock):
    def log(line):
        with lock:
            logf.write(line + "\n")
            logf.flush()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "cache-serve"

        def log_message(self, fmt, *args):  # quiet: our own log only
            pass

        def _path(self):
            rel = self.path.split("?", 1)[0].lstrip("/")
            full = os.path.realpath(os.path.join(root, rel))
            if full != root and not full.startswith(root + os.sep):
                return None
            return full

        def _reply(self, send_body):
            full = self._path()
            if full is None or not os.path.isfile(full):
                body = b"not found\n"
                self.send_response(404)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                log("start %.3f %s %s 404 %d" % (time.time(), self.command, self.path, len(body)))
                if send_body:
                    self.wfile.write(body)
                log("done %.3f %s %s 404 %d" % (time.time(), self.command, self.path, len(body)))
                return
            size = os.path.getsize(full)
            self.send_response(200)
            ctype = "text/x-nix-narinfo" if full.endswith(".narinfo") else "application/octet-stream"
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            log("start %.3f %s %s 200 %d" % (time.time(), self.command, self.path, size))
            if not send_body:
                log("done %.3f %s %s 200 0" % (time.time(), self.command, self.path))
                return
            sent = 0
            next_mark = SENT_EVERY
            began = time.monotonic()
            try:
                with open(full, "rb") as f:
                    while True:
                        buf = f.read(CHUNK)
                        if not buf:
                            break
                        self.wfile.write(buf)
                        sent += len(buf)
                        if sent >= next_mark:
                            log("sent %.3f %s %d" % (time.time(), self.path, sent))
                            next_mark += SENT_EVERY
                        if rate > 0:
                            ahead = sent / rate - (time.monotonic() - began)
                            if ahead > 0:
                                time.sleep(ahead)
                self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError) as e:
                log("abort %.3f %s %s 200 %d %s" % (time.time(), self.command, self.path, sent, type(e).__name__))
                self.close_connection = True
                return
            log("done %.3f %s %s 200 %d" % (time.time(), self.command, self.path, sent))

        def do_GET(self):
            self._reply(True)

        def do_HEAD(self):
            self._reply(False)

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    ap.add_argument("--rate", type=int, default=0)
    ap.add_argument("--bind", default="127.0.0.1")  # an IPv6 address works too
    a = ap.parse_args()
    root = os.path.realpath(a.dir)
    logf = open(a.log, "a") if a.log else open(os.devnull, "w")
    if ":" in a.bind:
        Server.address_family = socket.AF_INET6
    srv = Server((a.bind, a.port), make_handler(root, a.rate, logf, threading.Lock()))
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
