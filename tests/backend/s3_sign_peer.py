#!/usr/bin/python3
"""Peer test of Tessera's SigV4 signing (src/backend/s3_sign.c) against botocore.

Usage: s3_sign_peer.py TOOL
where TOOL is the built tests/backend/s3_sign_tool (commands on stdin, see
its header comment).

1. A few hundred random S3 requests -- methods, keys with non-ASCII, spaces
   and reserved characters, query strings with several parameters (empty
   values, characters that need encoding), extra x-amz-* headers, range,
   content-md5, signed or unsigned payloads, odd header whitespace -- are
   signed by botocore's S3SigV4Auth at a fixed time and by Tessera; the
   Authorization headers must be identical byte for byte.
2. s3_uri_encode against urllib.parse.quote, the SHA-256 / Content-MD5
   helpers against hashlib, s3_amz_date and the two date parsers against
   Python's datetime and email.utils.

Run with /usr/bin/python3 (the Debian interpreter that has botocore).  Exits
non-zero listing the mismatches.
"""
import base64
import datetime
import email.utils
import hashlib
import random
import subprocess
import sys
from unittest import mock
from urllib.parse import quote

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

N_REQUESTS = 400
rng = random.Random(20261122)

# Characters keys are drawn from: plain, reserved, space, and 2/3/4-byte UTF-8.
KEY_CHARS = (list("abcXYZ019-_.~") * 4 + list("/ /+%&=?#!$'()*,;:@[]^`{}|\\\"<>") +
             ["\u00e9", "\u00fc", "\u4e2d", "\u6587", "\U0001F600", "\t", "\u2028"])
QUERY_NAMES = ["list-type", "prefix", "delimiter", "continuation-token", "max-keys",
               "uploads", "uploadId", "partNumber", "delete", "encoding-type", "x-id",
               "start-after", "a b", "\u00e9t\u00e9", "k/slash", "we+ird=&"]
METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD"]
AMZ_HEADERS = ["x-amz-meta-owner", "x-amz-meta-note", "x-amz-storage-class",
               "x-amz-copy-source", "x-amz-acl", "x-amz-server-side-encryption"]
HOSTS = ["127.0.0.1:7480", "s3.amazonaws.com", "bucket.s3.eu-west-1.amazonaws.com",
         "localhost:9000", "[::1]:8080"]
REGIONS = ["us-east-1", "eu-central-1", "default", "ap-southeast-2"]


def hx(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return b.hex() if b else "-"


def rand_text(chars, lo, hi):
    return "".join(rng.choice(chars) for _ in range(rng.randint(lo, hi)))


def rand_header_value():
    """Printable ASCII with runs of blanks, leading and trailing ones too."""
    words = [rand_text("abcdefXYZ0123456789-_/=+.:;,\"'()", 1, 8) for _ in range(rng.randint(1, 4))]
    seps = [rng.choice([" ", "  ", "   ", "\t", " \t "]) for _ in words]
    v = "".join(w + s for w, s in zip(words, seps)).rstrip(" \t")
    return rng.choice(["", " ", "  \t"]) + v + rng.choice(["", " ", "\t "])


def random_request():
    method = rng.choice(METHODS)
    bucket = rng.choice(["bkt", "my-bucket", "b.dots"])
    key = rand_text(KEY_CHARS, 1, 40)
    if rng.random() < 0.1:
        key = "a//b/./c/../d"  # S3 keeps these as they are
    path = "/" + bucket + "/" + key if rng.random() < 0.9 else "/" + bucket
    params = []
    for _ in range(rng.randint(0, 5)):
        name = rng.choice(QUERY_NAMES)
        if any(n == name for n, _ in params):
            continue
        value = rng.choice(["", "", "2", "1000", "url", "/", rand_text(KEY_CHARS, 1, 20)])
        params.append((name, value))
    host = rng.choice(HOSTS)
    headers = {"Host": host}
    for name in rng.sample(AMZ_HEADERS, rng.randint(0, 3)):
        headers[name] = rand_header_value()
    if rng.random() < 0.3:
        a = rng.randint(0, 1 << 40)
        headers["Range"] = "bytes=%d-%d" % (a, a + rng.randint(0, 1 << 20))
    if rng.random() < 0.2:
        headers["Content-Type"] = rng.choice(["application/octet-stream", "application/xml"])
    body = b""
    if method in ("PUT", "POST") and rng.random() < 0.8:
        body = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
    md5 = rng.random() < 0.4
    if md5:
        headers["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()
    unsigned = rng.random() < 0.3
    when = datetime.datetime(2000, 1, 1) + datetime.timedelta(seconds=rng.randrange(40 * 365 * 86400))
    ak = rand_text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 16, 20)
    sk = rand_text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789/+", 20, 40)
    region = rng.choice(REGIONS)
    return dict(method=method, path=path, params=params, headers=headers, body=body, md5=md5,
                unsigned=unsigned, when=when, ak=ak, sk=sk, region=region, host=host)


def botocore_auth(r):
    scheme = "https" if r["unsigned"] else "http"
    url = scheme + "://" + r["host"] + quote(r["path"], safe="/~")
    req = AWSRequest(method=r["method"], url=url, headers=dict(r["headers"]), data=r["body"],
                     params=list(r["params"]))
    if r["unsigned"]:
        req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    with mock.patch("botocore.auth.datetime") as dt:
        dt.datetime.utcnow.return_value = r["when"]
        dt.datetime.now.return_value = r["when"]
        S3SigV4Auth(Credentials(r["ak"], r["sk"]), "s3", r["region"]).add_auth(req)
    return req.headers["Authorization"]


def tool_commands(r):
    date = r["when"].strftime("%Y%m%dT%H%M%SZ")
    lines = ["R %s %s %s %s s3 %s %s %s %s" % (r["method"], hx(r["path"]), date, r["region"],
                                              hx(r["ak"]), hx(r["sk"]),
                                              "unsigned" if r["unsigned"] else "body", hx(r["body"]))]
    for name, value in r["params"]:
        lines.append("Q %s %s" % (hx(name), hx(value)))
    for name, value in r["headers"].items():
        if name == "Content-MD5":
            continue
        lines.append("H %s %s" % (name.lower(), hx(value)))
    if r["md5"]:
        lines.append("M")
    lines.append("E")
    return lines


def run_tool(tool, lines):
    p = subprocess.run([tool], input="\n".join(lines) + "\n", capture_output=True, text=True,
                       check=True)
    return p.stdout.splitlines()


def check_signatures(tool, failures):
    reqs = [random_request() for _ in range(N_REQUESTS)]
    lines = []
    for r in reqs:
        lines += tool_commands(r)
    got = run_tool(tool, lines)
    if len(got) != len(reqs):
        failures.append("tool printed %d lines for %d requests" % (len(got), len(reqs)))
        return
    for r, g in zip(reqs, got):
        want = botocore_auth(r)
        if g != want:
            failures.append("request %r:\n  tessera  %s\n  botocore %s" % (r, g, want))
    print("signatures: %d requests compared" % len(reqs))


def check_helpers(tool, failures):
    cmds, want = [], []
    for _ in range(300):
        s = rand_text(KEY_CHARS, 0, 30).encode("utf-8")
        if rng.random() < 0.3:
            s = bytes(rng.randrange(256) for _ in range(rng.randint(0, 30)))
        keep = rng.randint(0, 1)
        cmds.append("U %d %s" % (keep, hx(s)))
        want.append(quote(s, safe="/~" if keep else "~"))
    for n in [0, 1, 3, 55, 56, 64, 1000] + [rng.randint(0, 500) for _ in range(50)]:
        d = bytes(rng.randrange(256) for _ in range(n))
        cmds.append("D " + hx(d))
        want.append("%s %s" % (hashlib.sha256(d).hexdigest(),
                               base64.b64encode(hashlib.md5(d).digest()).decode()))
    epoch = datetime.datetime(1970, 1, 1)
    for t in [0, -1, 86399, 86400, 951782400, 4102444800, -2208988800] + \
            [rng.randint(-62135596800, 253402300799) for _ in range(200)]:
        cmds.append("A %d" % t)
        d = epoch + datetime.timedelta(seconds=t)
        want.append("%04d%02d%02dT%02d%02d%02dZ" % (d.year, d.month, d.day, d.hour, d.minute, d.second))
    for _ in range(200):
        t = rng.randint(-9223372036, 9223372035)
        dt = epoch + datetime.timedelta(seconds=t)
        if dt.year < 1678 or dt.year > 2261:
            continue
        frac = rng.choice([None, 3, 6, 9, 1])
        iso = dt.strftime("%Y-%m-%dT%H:%M:%S")
        ns = t * 10**9
        if frac:
            f = rng.randrange(10**frac)
            iso += ".%0*d" % (frac, f)
            ns += f * 10**(9 - frac)
        cmds.append("I " + hx(iso + "Z"))
        want.append(str(ns))
        cmds.append("P " + hx(email.utils.format_datetime(dt.replace(tzinfo=datetime.timezone.utc),
                                                          usegmt=True)))
        want.append(str(t * 10**9))
    got = run_tool(tool, cmds)
    for c, g, w in zip(cmds, got, want):
        if g != w:
            failures.append("%s: tessera %r, python %r" % (c, g, w))
    if len(got) != len(cmds):
        failures.append("tool printed %d lines for %d commands" % (len(got), len(cmds)))
    print("helpers: %d values compared" % len(cmds))


def main():
    tool = sys.argv[1]
    failures = []
    check_signatures(tool, failures)
    check_helpers(tool, failures)
    for f in failures[:20]:
        print("MISMATCH", f)
    if failures:
        print("%d mismatches" % len(failures))
        return 1
    print("all equal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
