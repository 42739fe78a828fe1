#!/usr/bin/python3
"""Test client: PUT a file with a signed aws-chunked body
(x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD), the way AWS SDKs
stream uploads.  The seed request is signed by botocore; each chunk carries
its own signature chained from the previous one.

  aws-chunked-put.py ENDPOINT BUCKET KEY FILE KEYID SECRET [--tamper]
--tamper flips one byte of the second chunk after signing it.
Prints the HTTP status and body; exit 0 on 200."""
import hashlib
import hmac
import http.client
import sys
import urllib.parse

import botocore.auth
import botocore.awsrequest
import botocore.credentials

CHUNK = 64 * 1024
STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
EMPTY = hashlib.sha256(b"").hexdigest()


class StreamingSigner(botocore.auth.S3SigV4Auth):
    def payload(self, request):
        return STREAMING


def main():
    endpoint, bucket, key, path, akid, secret = sys.argv[1:7]
    tamper = "--tamper" in sys.argv[7:]
    data = open(path, "rb").read()
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] + [b""]
    # Encoded length: each chunk is "<hex>;chunk-signature=<64>\r\n<data>\r\n".
    enc_len = sum(len(f"{len(c):x};chunk-signature=".encode()) + 64 + 2 + len(c) + 2 for c in chunks)
    url = f"{endpoint}/{bucket}/{key}"
    u = urllib.parse.urlsplit(url)
    req = botocore.awsrequest.AWSRequest(method="PUT", url=url, headers={
        "Host": u.netloc, "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(data)), "Content-Length": str(enc_len)})
    creds = botocore.credentials.Credentials(akid, secret)
    StreamingSigner(creds, "s3", "us-east-1").add_auth(req)
    amz_date = req.headers["X-Amz-Date"]
    seed = req.headers["Authorization"].rsplit("Signature=", 1)[1]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    k = hmac.new(("AWS4" + secret).encode(), amz_date[:8].encode(), hashlib.sha256).digest()
    for part in ("us-east-1", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    body, prev = b"", seed
    for n, c in enumerate(chunks):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY,
                         hashlib.sha256(c).hexdigest()])
        prev = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        if tamper and n == 1 and c:
            c = bytes([c[0] ^ 1]) + c[1:]
        body += f"{len(c):x};chunk-signature={prev}\r\n".encode() + c + b"\r\n"
    assert len(body) == enc_len
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest("PUT", u.path, skip_host=True, skip_accept_encoding=True)
    for name, value in req.headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(body)
    resp = conn.getresponse()
    print(resp.status, resp.read().decode(errors="replace"))
    sys.exit(0 if resp.status == 200 else 1)


if __name__ == "__main__":
    main()
