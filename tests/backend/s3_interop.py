#!/usr/bin/python3
"""The S3 backend against a real server (the test RGW), with boto3 as the peer.

Usage: s3_interop.py SUITE S3_TOOL TESS

SUITE is one of
  interop   what Tessera writes (small, empty, odd keys, multipart put and
            streamed writes) boto3 reads byte for byte; what boto3 writes
            (put_object, multipart upload_fileobj) Tessera reads: whole and
            ranged gets, batched gets, stat, listings that match
            list_objects_v2 page by page
  errors    wrong secret -> TESS_EAUTH with SignatureDoesNotMatch (library and
            CLI, one line, no secret printed); unknown access key; missing
            bucket without create -> TESS_ENOTFOUND; unknown URL option
  orphans   an aborted streaming writer, put-if-absent of a multipart-sized
            object, a failing CompleteMultipartUpload and failing parts all
            leave no multipart upload behind (list_multipart_uploads)
  faults    through s3_fault_proxy.py: 503/500/429 answers, connection resets
            and truncated responses are retried until the operation succeeds;
            403, 404 and 400 are not retried; ?retries=N bounds the attempts
  profile   ?profile=ALT takes ALT_AWS_* over AWS_*
  virtual   ?addressing=virtual through http://localhost:PORT (bucket in the
            Host header), path style otherwise
  arrays    Zarr v2, v3 and sharded v3 arrays through `tess array` on an s3://
            store equal the NumPy data, the objects equal those of the same
            array in a file store, and zarr-python reads the v2 array from S3
  cp        `tess cp -r`: local tree -> file store -> S3 store -> LMDB store
            -> local tree, byte-identical

S3_TOOL is the built tests/backend/s3_tool, TESS the built tess.  The server
and credentials come from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY (the ctest fixture `s3` sets them).  An unreachable
server is a failure, never a skip.  Exits non-zero with a message on the
first mismatch.
"""
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import MutableMapping
from urllib.parse import urlsplit

import boto3
import numpy as np
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from s3_fault_proxy import FaultProxy, Rule  # noqa: E402

MiB = 1 << 20
PART = 5 * MiB  # RGW's smallest part
SMALL_PARTS = "part_size=%d&multipart_threshold=%d" % (PART, PART)
SUITE, TOOL, TESS = sys.argv[1:4] if len(sys.argv) >= 4 else (None, None, None)
TMP = None
rng = random.Random(20261122)


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def fail(what):
    raise Failure(what)


def data(n):
    return rng.randbytes(n)


def fresh_bucket(tag):
    # lowercase, 3..63 chars; the pid alone wraps on small systems
    return "tess-%s-%d-%06x" % (tag, os.getpid(), random.SystemRandom().getrandbits(24))


# ---- the server ---------------------------------------------------------------

def env_required(name):
    v = os.environ.get(name)
    if not v:
        fail("%s is not set: the S3 tests run against the RGW of the ctest fixture "
             "'s3' (scripts/rgw.sh), which sets it" % name)
    return v


ENDPOINT = None
PORT = None
s3 = None


def connect():
    """boto3 client on the test server; fails loudly if it does not answer."""
    global ENDPOINT, PORT, s3
    ENDPOINT = env_required("AWS_ENDPOINT_URL")
    PORT = urlsplit(ENDPOINT).port
    s3 = boto3.client(
        "s3", endpoint_url=ENDPOINT, region_name="us-east-1",
        aws_access_key_id=env_required("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env_required("AWS_SECRET_ACCESS_KEY"),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2},
                      connect_timeout=5, read_timeout=60))
    try:
        s3.list_buckets()
    except Exception as e:  # noqa: BLE001 - any failure means no server
        fail("the test S3 server at %s does not answer (%s: %s); start it with "
             "scripts/rgw.sh up DIR PORT or run the test through ctest" %
             (ENDPOINT, type(e).__name__, e))


def boto_get(bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def boto_keys(bucket, prefix=""):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def boto_exists(bucket, key):
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except s3.exceptions.ClientError as e:
        if e.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def open_uploads(bucket):
    r = s3.list_multipart_uploads(Bucket=bucket)
    return [(u["Key"], u["UploadId"]) for u in r.get("Uploads", [])]


# ---- running the tools ----------------------------------------------------------

def run(argv, env=None, rc=0, what=None, timeout=300):
    """Run argv; check the exit status (None: any)."""
    t0 = time.monotonic()
    p = subprocess.run([str(a) for a in argv], capture_output=True, env=env, timeout=timeout)
    p.seconds = time.monotonic() - t0
    p.out = p.stdout.decode("utf-8", "replace")
    p.err = p.stderr.decode("utf-8", "replace")
    if rc is not None and p.returncode != rc:
        fail("%s: exit %d, wanted %d\n  command: %s\n  stderr: %s" %
             (what or "command", p.returncode, rc, " ".join(map(str, argv)), p.err.strip()))
    return p


def tool(url, *args, env=None, rc=0):
    return run([TOOL, url, *args], env=env, rc=rc, what="s3_tool " + " ".join(map(str, args[:2])))


def tool_fails(url, *args, code, env=None):
    """Run s3_tool expecting failure with TESS_E<code>; returns stderr."""
    p = tool(url, *args, env=env, rc=None)
    what = " ".join(map(str, args))
    check(p.returncode == 1, "s3_tool %s on %s: exit %d, wanted 1 (%s); stderr: %s" %
          (what, url, p.returncode, code, p.err.strip()))
    check(code in p.err, "s3_tool %s on %s failed, but not with %s: %s" %
          (what, url, code, p.err.strip()))
    return p.err


def tess(store, *args, env=None, rc=0):
    return run([TESS, "--store", store, *args], env=env, rc=rc, what="tess " + " ".join(args))


def write_file(name, content):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(content)
    return path


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def tool_get(url, key, *rng_args, env=None):
    out = os.path.join(TMP, "got")
    tool(url, "get", key, out, *rng_args, env=env)
    return read_file(out)


def tool_list(url, prefix, delim="", page=1000):
    p = tool(url, "list", prefix, delim, page)
    return [json.loads(line) for line in p.out.splitlines()]


def new_bucket_url(tag, query=""):
    b = fresh_bucket(tag)
    url = "s3://" + b + ("?" + query if query else "")
    tool(url, "open", "create")
    return b, url


def with_query(url, query):
    return url + ("&" if "?" in url else "?") + query


# ---- interop --------------------------------------------------------------------

def suite_interop():
    bucket, base = new_bucket_url("interop")
    # Tessera writes under a prefix, with 5 MiB parts
    url = "s3://%s/pre/fix?%s" % (bucket, SMALL_PARTS)
    objects = {
        "small.txt": b"hello S3\n",
        "empty": b"",
        "dir/hello world.txt": data(1000),
        "\u00fcn\u00ef/c\u00f8d\u00e9 \u2713+&=;@$,!'()*~%.bin": data(3333),
        "big/put": data(20 * MiB),                 # 4 parts
    }
    for key, content in objects.items():
        tool(url, "put", key, write_file("obj", content))
    streamed = {
        "big/streamed": (data(20 * MiB + 123), ["1048576"]),          # 5 parts
        "big/sized": (data(11 * MiB), ["3145728", "sized"]),           # 3 parts
        "small/streamed": (data(70000), ["4096"]),                     # one PUT
    }
    for key, (content, extra) in streamed.items():
        tool(url, "write", key, write_file("obj", content), *extra)
        objects[key] = content
    batch = {"batch/%02d" % i: data(rng.randrange(0, 5000)) for i in range(24)}
    os.makedirs(os.path.join(TMP, "batch"), exist_ok=True)
    for key, content in batch.items():
        write_file(key, content)
    tool(url, "put-many", TMP, *batch)
    objects.update(batch)

    t0 = time.time()
    for key, content in objects.items():
        got = boto_get(bucket, "pre/fix/" + key)
        check(got == content, "boto3 reads %r: %d bytes differ from the %d Tessera wrote" %
              (key, len(got), len(content)))
    etags = {k: s3.head_object(Bucket=bucket, Key="pre/fix/" + k)["ETag"].strip('"')
             for k in ("big/put", "big/streamed", "big/sized", "small/streamed", "small.txt")}
    for key, parts in (("big/put", 4), ("big/streamed", 5), ("big/sized", 3)):
        check(etags[key].endswith("-%d" % parts),
              "%s: ETag %s is not that of a %d-part upload" % (key, etags[key], parts))
    for key in ("small/streamed", "small.txt"):
        check("-" not in etags[key], "%s: ETag %s, wanted a single PUT" % (key, etags[key]))
    check(sorted(boto_keys(bucket, "pre/fix/")) == sorted("pre/fix/" + k for k in objects),
          "boto3 lists other keys than Tessera wrote: %s" % boto_keys(bucket))
    # stat agrees with HEAD
    for key in ("small.txt", "big/streamed", "empty"):
        st = json.loads(tool(url, "stat", key).out)
        head = s3.head_object(Bucket=bucket, Key="pre/fix/" + key)
        check(st["size"] == head["ContentLength"], "stat %s: size %d, HEAD says %d" %
              (key, st["size"], head["ContentLength"]))
        lm = head["LastModified"].timestamp()
        check(abs(st["mtime_ns"] / 1e9 - lm) < 2, "stat %s: mtime %d ns, HEAD says %s" %
              (key, st["mtime_ns"], head["LastModified"]))
        check(st["etag"], "stat %s: empty etag" % key)
    print("tessera -> boto3: %d objects verified (%.1f s)" % (len(objects), time.time() - t0))

    # boto3 writes, Tessera reads
    theirs = {
        "from-boto/a.txt": b"written by boto3\n",
        "from-boto/empty": b"",
        "from-boto/sub/b.bin": data(100 * 1024),
        "from-boto/sub/deeper/c": data(10),
        "from-boto/sp ace/\u00fc+%.txt": data(77),
        "from-boto/z": b"z",
        "top": b"at the root",
    }
    for key, content in theirs.items():
        s3.put_object(Bucket=bucket, Key=key, Body=content)
    multi = data(12 * MiB + 7)
    s3.upload_fileobj(io.BytesIO(multi), bucket, "from-boto/multi.bin",
                      Config=TransferConfig(multipart_threshold=PART, multipart_chunksize=PART))
    etag = s3.head_object(Bucket=bucket, Key="from-boto/multi.bin")["ETag"]
    check(etag.strip('"').endswith("-3"), "boto3's upload is not multipart: ETag %s" % etag)
    theirs["from-boto/multi.bin"] = multi
    for key, content in theirs.items():
        got = tool_get(base, key)
        check(got == content, "Tessera reads boto3's %r: %d bytes, wanted %d, equal %s" %
              (key, len(got), len(content), got == content))
        st = json.loads(tool(base, "stat", key).out)
        check(st["size"] == len(content), "stat %r: size %d, wanted %d" %
              (key, st["size"], len(content)))
    n = len(multi)
    for off, length in ((0, 1), (PART - 3, 10), (2 * PART - 1, PART + 2), (n - 5, 100),
                        (n, 10), (0, 0), (123456, None)):
        args = [off] + ([length] if length is not None else [])
        got = tool_get(base, "from-boto/multi.bin", *args)
        want = multi[off:] if length is None else multi[off:off + length]
        check(got == want, "ranged get %d+%s of boto3's multipart object: %d bytes, wanted %d"
              % (off, length, len(got), len(want)))
    tool_fails(base, "get", "from-boto/multi.bin", os.path.join(TMP, "x"), n + 1, 1,
               code="TESS_ERANGE")
    tool_fails(base, "get", "from-boto/nothing", os.path.join(TMP, "x"), code="TESS_ENOTFOUND")
    specs = ["from-boto/multi.bin:%d:%d" % (PART - 100, 200), "from-boto/a.txt:0:-",
             "from-boto/sub/b.bin:1000:5000", "from-boto/empty:0:-",
             "from-boto/multi.bin:%d:-" % (n - 1000)]
    out = os.path.join(TMP, "many")
    tool(base, "get-many", out, *specs)
    want = (multi[PART - 100:PART + 100] + theirs["from-boto/a.txt"] +
            theirs["from-boto/sub/b.bin"][1000:6000] + multi[n - 1000:])
    check(read_file(out) == want, "batched get of boto3's objects differs")

    # listings against list_objects_v2, with pages of 2 to exercise paging
    for loc, lprefix, bprefix in ((base, "from-boto/", "from-boto/"), (base, "", ""),
                                  (base, "from-boto/s", "from-boto/s"),
                                  ("s3://%s/from-boto" % bucket, "", "from-boto/"),
                                  ("s3://%s/from-boto" % bucket, "sub/", "from-boto/sub/")):
        for delim in ("/", ""):
            want = []
            kw = {"Delimiter": delim} if delim else {}
            for page in s3.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=bprefix, **kw):
                want += [(o["Key"], 0, o["Size"]) for o in page.get("Contents", [])]
                want += [(p["Prefix"], 1, 0) for p in page.get("CommonPrefixes", [])]
            want = sorted((k[len(bprefix) - len(lprefix):], p, s) for k, p, s in want)
            # a prefix location hides its prefix (and its own marker, if any)
            for page_size in (2, 1000):
                got = [(e["key"], e["prefix"], e["size"])
                       for e in tool_list(loc, lprefix, delim, page_size)]
                check(got == want, "list %s prefix %r delimiter %r (pages of %d):\n  got  %s\n"
                      "  want %s" % (loc, lprefix, delim, page_size, got, want))
    print("boto3 -> tessera: %d objects, ranges, batches and listings verified" % len(theirs))

    # deletes: one and a batch, seen by boto3
    tool(base, "del", "top")
    check(not boto_exists(bucket, "top"), "deleted 'top' still exists")
    tool_fails(base, "del", "top", code="TESS_ENOTFOUND")
    keys = ["pre/fix/batch/%02d" % i for i in range(24)] + ["pre/fix/never-there"]
    tool(base, "del-many", *keys)
    check(boto_keys(bucket, "pre/fix/batch/") == [], "del-many left %s" %
          boto_keys(bucket, "pre/fix/batch/"))


# ---- errors ---------------------------------------------------------------------

def suite_errors():
    bucket, url = new_bucket_url("errors")
    tool(url, "put", "k", write_file("k", b"value"))
    secret = "WRONG-secret-Zz9-" + "%08x" % rng.getrandbits(32)
    wrong = dict(os.environ, AWS_SECRET_ACCESS_KEY=secret)

    # the library: the code, the S3 error code in the message, no secret
    for args in (("get", "k", os.path.join(TMP, "x")), ("stat", "k"), ("list", ""),
                 ("put", "k2", write_file("k2", b"v"))):
        err = tool_fails(url, *args, code="TESS_EAUTH", env=wrong)
        check("SignatureDoesNotMatch" in err, "wrong secret, %s: message lacks "
              "SignatureDoesNotMatch: %s" % (args[0], err.strip()))
        check(secret not in err and "TESTSECRET" not in err,
              "wrong secret, %s: a secret is in the message: %s" % (args[0], err.strip()))
    check(not boto_exists(bucket, "k2"), "a put with a wrong secret stored something")

    # the CLI: one line, exit 1, the S3 code, no secret
    store = "s3://" + fresh_bucket("errors-cli")
    run([TESS, "init", store])
    tess(store, "put", "notes/a", write_file("a", b"a"))
    for args in (("ls",), ("get", "notes/a", os.path.join(TMP, "a.out")), ("stat", "notes/a"),
                 ("put", "notes/b", write_file("b", b"b"))):
        p = tess(store, *args, env=wrong, rc=1)
        lines = p.err.splitlines()
        check(len(lines) == 1 and lines[0].startswith("tess: "),
              "tess %s with a wrong secret: want one 'tess: ' line on stderr, got %r" %
              (args[0], p.err))
        check("SignatureDoesNotMatch" in p.err, "tess %s with a wrong secret: %r lacks "
              "SignatureDoesNotMatch" % (args[0], p.err))
        check(secret not in p.err + p.out and "TESTSECRET" not in p.err + p.out,
              "tess %s printed a secret: %r" % (args[0], p.err))
    print("wrong secret: %s" % p.err.strip())

    # an access key RGW does not know
    unknown = dict(os.environ, AWS_ACCESS_KEY_ID="NOSUCHKEY%06d" % rng.randrange(10**6))
    err = tool_fails(url, "get", "k", os.path.join(TMP, "x"), code="TESS_EAUTH", env=unknown)
    check("InvalidAccessKeyId" in err, "unknown access key: message lacks InvalidAccessKeyId: "
          + err.strip())
    check("TESTSECRET" not in err, "unknown access key: the secret is in the message")
    # a session token is a secret too (RGW without STS ignores it; the
    # wrong secret makes the request fail)
    token = "SESSION-token-" + "%08x" % rng.getrandbits(32)
    err = tool_fails(url, "get", "k", os.path.join(TMP, "x"), code="TESS_EAUTH",
                     env=dict(wrong, AWS_SESSION_TOKEN=token))
    check(token not in err and secret not in err,
          "the session token or secret is in the message: " + err.strip())

    # a bucket nobody made
    missing = "s3://" + fresh_bucket("missing")
    for args in (("open",), ("get", "k", os.path.join(TMP, "x")), ("list", "")):
        tool_fails(missing, *args, code="TESS_ENOTFOUND")
    p = tess(missing, "ls", rc=1)
    check("not found" in p.err and len(p.err.splitlines()) == 1,
          "tess ls on a missing bucket: %r" % p.err)
    check(not any(b["Name"] == missing[5:] for b in s3.list_buckets()["Buckets"]),
          "opening without create made the bucket")

    # URL options
    err = tool_fails(with_query(url, "bogus=1"), "open", code="TESS_EINVAL")
    check("bogus" in err, "unknown option: message does not name it: " + err.strip())
    for q in ("addressing=sideways", "part_size=abc", "retries=x", "concurrency=-1"):
        tool_fails(with_query(url, q), "open", code="TESS_EINVAL")
    # an endpoint that refuses connections is an I/O error, quickly
    p = tool("s3://%s?endpoint=http://127.0.0.1:1&retries=1" % bucket, "get", "k",
             os.path.join(TMP, "x"), rc=None)
    check(p.returncode == 1 and "TESS_EIO" in p.err, "refused connection: %s" % p.err.strip())
    check(p.seconds < 30, "a refused connection took %.1f s to fail" % p.seconds)


# ---- orphans ----------------------------------------------------------------------

def suite_orphans():
    bucket, base = new_bucket_url("orphans")
    url = with_query(base, SMALL_PARTS)
    proxy = FaultProxy(PORT)
    purl = with_query(url, "endpoint=http://127.0.0.1:%d" % proxy.port)
    try:
        # 1. a streaming writer aborted after parts went up (a writer
        #    buffers a few parts before it sends them: 26 MiB is enough)
        proxy.set_rules([])
        tool(purl, "write-abort", "aborted", write_file("big", data(26 * MiB)))
        log = proxy.requests()
        check(any(r.method == "POST" and "uploads" in r.target for r in log),
              "write-abort of 26 MiB never started a multipart upload: %s" % log)
        check(any(r.method == "PUT" and "partNumber" in r.target for r in log),
              "write-abort of 26 MiB sent no part before the abort: %s" % log)
        check(any(r.method == "DELETE" and "uploadId" in r.target for r in log),
              "an aborted writer did not abort its multipart upload: %s" % log)
        check(open_uploads(bucket) == [], "uploads left after writer_abort: %s" %
              open_uploads(bucket))
        check(not boto_exists(bucket, "aborted"), "an aborted writer left an object")

        # 2. put-if-absent of a multipart-sized object: RGW ignores
        #    If-None-Match on CompleteMultipartUpload, so Tessera refuses
        big = write_file("big12", data(12 * MiB))
        for op in (("put", "cond", big, "if-absent"),
                   ("write", "cond-w", big, "1048576", "if-absent")):
            tool_fails(url, *op, code="TESS_ENOTSUP")
            check(not boto_exists(bucket, op[1]), "%s if-absent refused with ENOTSUP but "
                  "stored the object" % op[0])
            check(open_uploads(bucket) == [], "uploads left after a refused if-absent "
                  "%s: %s" % (op[0], open_uploads(bucket)))
        # a small put-if-absent works (a single PUT)
        tool(url, "put", "cond-small", write_file("s", b"x"), "if-absent")
        tool_fails(url, "put", "cond-small", write_file("s", b"y"), "if-absent",
                   code="TESS_EEXISTS")
        check(boto_get(bucket, "cond-small") == b"x", "a lost put-if-absent overwrote")

        # 3. CompleteMultipartUpload refused (400 InvalidPart, not retried)
        proxy.set_rules([Rule(400, times=1, method="POST", target="uploadId=")])
        p = tool(purl, "put", "complete-fails", big, rc=None)
        check(p.returncode == 1, "a put whose complete failed: exit %d: %s" %
              (p.returncode, p.err))
        log = proxy.requests()
        check(any(r.method == "DELETE" and "uploadId" in r.target for r in log),
              "no abort after a failed complete: %s" % log)
        check(open_uploads(bucket) == [], "uploads left after a failed complete: %s" %
              open_uploads(bucket))
        check(not boto_exists(bucket, "complete-fails"), "a failed complete left an object")

        # 4. every part fails (500 beyond the retries) for a put and a writer
        for op in (("put", "parts-fail", big), ("write", "parts-fail-w", big, "2097152")):
            proxy.set_rules([Rule(500, times=1000, method="PUT", target="partNumber=")])
            p = tool(with_query(purl, "retries=1"), *op, rc=None)
            check(p.returncode == 1, "%s with failing parts: exit %d" % (op[0], p.returncode))
            check(open_uploads(bucket) == [], "%s: uploads left after failing parts: %s" %
                  (op[0], open_uploads(bucket)))
            check(not boto_exists(bucket, op[1]), "failing parts left an object")
        # the probe objects Tessera may use to test the server are gone too
        left = boto_keys(bucket)
        check(left == ["cond-small"], "objects left in the bucket: %s" % left)
    finally:
        proxy.close()


# ---- faults -------------------------------------------------------------------------

def suite_faults():
    bucket, base = new_bucket_url("faults")
    proxy = FaultProxy(PORT)
    url = "s3://%s?endpoint=http://127.0.0.1:%d&%s" % (bucket, proxy.port, SMALL_PARTS)
    small, mid, big = data(1000), data(2 * MiB + 11), data(12 * MiB + 5)
    for key, content in (("small", small), ("mid", mid), ("big", big)):
        s3.put_object(Bucket=bucket, Key=key, Body=content)

    def obj(key):
        """A rule target: requests on the object KEY (not the bucket)."""
        return "^/%s/%s(\\?|$)" % (bucket, key)

    def scenario(name, rules, op, extra, rc=0, code=None, check_fn=None):
        """Run op without faults, then with RULES: it must succeed (or fail
        with CODE when rc=1) after exactly EXTRA more requests than without:
        one per retried fault, none for a fault that must not be retried."""
        proxy.set_rules([])
        tool(url, *op)
        baseline = len(proxy.requests())
        proxy.set_rules(rules)
        t0 = time.monotonic()
        p = tool(url, *op, rc=None)
        secs = time.monotonic() - t0
        log = proxy.requests()
        if rc == 0:
            check(p.returncode == 0, "%s: failed through faults that should be retried: "
                  "%s\n  requests: %s" % (name, p.err.strip(), log))
        else:
            check(p.returncode == rc and (code is None or code in p.err),
                  "%s: exit %d (%s), wanted %d %s" % (name, p.returncode, p.err.strip(), rc,
                                                      code or ""))
        check(not proxy.unused_rules(), "%s: faults never triggered: %s (requests: %s)" %
              (name, proxy.unused_rules(), log))
        check(len(log) == baseline + extra, "%s: %d requests, wanted %d + %d: %s" %
              (name, len(log), baseline, extra, log))
        if check_fn:
            check_fn()
        print("%-44s %2d requests  %5.2f s" % (name, len(log), secs))
        return p

    got = os.path.join(TMP, "got")

    def got_is(content):
        return lambda: check(read_file(got) == content, "bytes differ after retries")

    # retried: 5xx, 429, resets, truncated bodies
    scenario("GET after 2x 503 SlowDown", [Rule(503, 2, "GET", obj("small"))],
             ("get", "small", got), 2, check_fn=got_is(small))
    scenario("GET after 500", [Rule(500, 1, "GET", obj("mid"))], ("get", "mid", got), 1,
             check_fn=got_is(mid))
    scenario("GET after 429", [Rule(429, 1, "GET", obj("small"))], ("get", "small", got), 1,
             check_fn=got_is(small))
    scenario("GET reset mid-response", [Rule("reset", 1, "GET", obj("mid"))],
             ("get", "mid", got), 1, check_fn=got_is(mid))
    scenario("GET truncated response", [Rule("truncate", 1, "GET", obj("mid"))],
             ("get", "mid", got), 1, check_fn=got_is(mid))
    scenario("ranged GET reset", [Rule("reset", 1, "GET", obj("big"))],
             ("get", "big", got, PART - 7, 100000), 1,
             check_fn=got_is(big[PART - 7:PART - 7 + 100000]))
    scenario("open (bucket check) after 503", [Rule(503, 1)], ("get", "small", got), 1,
             check_fn=got_is(small))
    scenario("HEAD after 503 and 429",
             [Rule(503, 1, "HEAD", obj("mid")), Rule(429, 1, "HEAD", obj("mid"))],
             ("stat", "mid"), 2)
    scenario("list after 503, reset",
             [Rule(503, 1, "GET", "delimiter="), Rule("reset", 1, "GET", "delimiter=")],
             ("list", "", "/"), 2)
    up = write_file("up", data(300000))
    scenario("PUT after 500, 503",
             [Rule(500, 1, "PUT", obj("put-retried")), Rule(503, 1, "PUT", obj("put-retried"))],
             ("put", "put-retried", up), 2,
             check_fn=lambda: check(boto_get(bucket, "put-retried") == read_file(up),
                                    "PUT after retries: boto3 reads other bytes"))
    scenario("PUT reset mid-response", [Rule("reset", 1, "PUT", obj("put-reset"))],
             ("put", "put-reset", up), 1,
             check_fn=lambda: check(boto_get(bucket, "put-reset") == read_file(up),
                                    "PUT after a reset: boto3 reads other bytes"))
    bigf = write_file("bigf", big)
    scenario("multipart: faults on init, parts, complete",
             [Rule(503, 1, "POST", "uploads"), Rule(500, 1, "PUT", "partNumber=2"),
              Rule("reset", 1, "PUT", "partNumber=3"), Rule(503, 1, "POST", "uploadId=")],
             ("put", "mp-retried", bigf), 4,
             check_fn=lambda: (check(boto_get(bucket, "mp-retried") == big,
                                     "multipart after retries: boto3 reads other bytes"),
                               check(open_uploads(bucket) == [], "uploads left: %s" %
                                     open_uploads(bucket))))
    scenario("streamed multipart: a part reset",
             [Rule("reset", 1, "PUT", "partNumber=2")], ("write", "mp-w", bigf, "1000000"), 1,
             check_fn=lambda: check(boto_get(bucket, "mp-w") == big, "streamed "
                                    "multipart after a reset: boto3 reads other bytes"))
    specs = ["small:0:-", "mid:0:-", "big:%d:%d" % (PART, 5000), "mid:7:100"]
    scenario("batched GET after 503s and a reset",
             [Rule(503, 1, "GET", obj("small")), Rule(503, 1, "GET", obj("big")),
              Rule("reset", 2, "GET", obj("mid"))], ("get-many", got, *specs), 4,
             check_fn=got_is(small + mid + big[PART:PART + 5000] + mid[7:107]))

    def put_dels():
        for i in range(6):
            s3.put_object(Bucket=bucket, Key="del/%d" % i, Body=b"x")
    put_dels()
    scenario("DeleteObjects after 503", [Rule(503, 1, "POST", "delete")],
             ("del-many", *["del/%d" % i for i in range(6)]), 1)

    # not retried: other 4xx
    scenario("GET 403 AccessDenied: not retried", [Rule(403, 1, "GET", obj("small"))],
             ("get", "small", got), 0, rc=1, code="TESS_EAUTH")
    scenario("GET 404 NoSuchKey: not retried", [Rule(404, 1, "GET", obj("small"))],
             ("get", "small", got), 0, rc=1, code="TESS_ENOTFOUND")
    scenario("PUT 400: not retried", [Rule(400, 1, "PUT", obj("put-400"))],
             ("put", "put-400", up), 0, rc=1)
    proxy.set_rules([])
    p = tool(url, "get", "small", got,
             env=dict(os.environ, AWS_SECRET_ACCESS_KEY="wrong-secret"), rc=1)
    log = proxy.requests()
    check("TESS_EAUTH" in p.err and len(log) == 1,
          "a real 403 (wrong secret) through the proxy: %s, %d requests (wanted 1): %s" %
          (p.err.strip(), len(log), log))

    # retries=N bounds the attempts: N+1 requests, then the error
    for n in (0, 2):
        proxy.set_rules([Rule(503, 100, "GET", obj("small"))])
        t0 = time.monotonic()
        p = tool(with_query(url, "retries=%d" % n), "get", "small", got, rc=None)
        secs = time.monotonic() - t0
        log = [r for r in proxy.requests() if r.target.startswith("/%s/small" % bucket)]
        check(p.returncode == 1 and "SlowDown" in p.err and len(log) == n + 1,
              "retries=%d with a server that keeps failing: exit %d (%s), %d GETs (wanted %d)"
              % (n, p.returncode, p.err.strip(), len(log), n + 1))
        print("%-44s %2d requests  %5.2f s" % ("retries=%d, server keeps failing" % n,
                                               len(log), secs))
    # signatures were checked by RGW all along: the Host header reached it
    # unchanged (the proxy's address), and RGW accepted it
    check(all(r.host == "127.0.0.1:%d" % proxy.port for r in proxy.requests()),
          "Host headers: %s" % [r.host for r in proxy.requests()])
    proxy.close()


# ---- profile ----------------------------------------------------------------------

def suite_profile():
    bucket, url = new_bucket_url("profile")
    tool(url, "put", "k", write_file("k", b"profile test"))
    plain = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    alt = {"ALT_AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
           "ALT_AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
           "ALT_AWS_REGION": "us-east-1",
           "ALT_AWS_ENDPOINT_URL": ENDPOINT}
    purl = with_query(url, "profile=ALT")
    # only ALT_AWS_* set
    env = dict(plain, **alt)
    check(tool_get(purl, "k", env=env) == b"profile test", "?profile=ALT with ALT_AWS_*")
    tool(purl, "put", "by-alt", write_file("v", b"alt"), env=env)
    check(boto_get(bucket, "by-alt") == b"alt", "a put with ?profile=ALT")
    # plain AWS_* wrong: the profile's take precedence
    wrong = dict(plain, AWS_ACCESS_KEY_ID="NOSUCHKEY", AWS_SECRET_ACCESS_KEY="wrong",
                 AWS_ENDPOINT_URL="http://127.0.0.1:1", AWS_REGION="eu-west-9", **alt)
    check(tool_get(purl, "k", env=wrong) == b"profile test", "?profile=ALT with wrong AWS_*")
    # ALT_AWS_ENDPOINT, the other spelling, and the region fallback
    env2 = dict(wrong)
    del env2["ALT_AWS_ENDPOINT_URL"], env2["ALT_AWS_REGION"]
    env2.update(ALT_AWS_ENDPOINT=ENDPOINT, ALT_AWS_DEFAULT_REGION="us-east-1")
    check(tool_get(purl, "k", env=env2) == b"profile test", "ALT_AWS_ENDPOINT")
    # the profile's secret is the one used
    bad = dict(os.environ, **alt)
    bad["ALT_AWS_SECRET_ACCESS_KEY"] = "wrong-alt-secret"
    err = tool_fails(purl, "get", "k", os.path.join(TMP, "x"), code="TESS_EAUTH", env=bad)
    check("wrong-alt-secret" not in err, "the profile's secret is in the message")
    # without ?profile the ALT_* variables mean nothing
    p = tool(url, "get", "k", os.path.join(TMP, "x"), env=dict(plain, **alt), rc=None)
    check(p.returncode != 0, "without ?profile, ALT_AWS_* were used")
    # the CLI too
    store = "s3://" + fresh_bucket("profile-cli") + "?profile=ALT"
    run([TESS, "init", store], env=wrong)
    run([TESS, "--store", store, "put", "x", write_file("x", b"cli")], env=wrong)
    check(boto_get(urlsplit(store).netloc, "x") == b"cli", "tess with ?profile=ALT")


# ---- virtual-hosted addressing ------------------------------------------------------

def suite_virtual():
    bucket = fresh_bucket("virtual")
    vurl = "s3://%s?endpoint=http://localhost:%d&addressing=virtual" % (bucket, PORT)
    tool(vurl, "open", "create")
    check(any(b["Name"] == bucket for b in s3.list_buckets()["Buckets"]),
          "virtual-hosted create made no bucket")
    content = data(6 * MiB + 1)
    tool(with_query(vurl, SMALL_PARTS), "put", "dir/obj", write_file("o", content))
    tool(vurl, "put", "dir/small", write_file("s", b"small"))
    check(boto_get(bucket, "dir/obj") == content, "boto3 reads a virtual-hosted multipart put")
    check(tool_get(vurl, "dir/small") == b"small", "virtual-hosted get")
    check(tool_get(vurl, "dir/obj", 100, 10) == content[100:110], "virtual-hosted ranged get")
    keys = [e["key"] for e in tool_list(vurl, "", "/")]
    check(keys == ["dir/"], "virtual-hosted list: %s" % keys)
    tool(vurl, "del", "dir/small")
    check(not boto_exists(bucket, "dir/small"), "virtual-hosted delete")

    # what goes over the wire: the bucket in the Host header, not the path
    proxy = FaultProxy(PORT)
    try:
        proxy.set_rules([])
        via = "s3://%s?endpoint=http://localhost:%d&addressing=virtual" % (bucket, proxy.port)
        check(tool_get(via, "dir/obj", 0, 5) == content[:5], "virtual-hosted via the proxy")
        log = proxy.requests()
        check(log and all(r.host == "%s.localhost:%d" % (bucket, proxy.port) and
                          not r.target.startswith("/" + bucket) for r in log),
              "virtual-hosted requests: %s" % log)
        proxy.set_rules([])
        via = "s3://%s?endpoint=http://127.0.0.1:%d" % (bucket, proxy.port)
        check(tool_get(via, "dir/obj", 0, 5) == content[:5], "path style via the proxy")
        log = proxy.requests()
        check(log and all(r.host == "127.0.0.1:%d" % proxy.port and
                          r.target.startswith("/" + bucket) for r in log),
              "path-style requests: %s" % log)
    finally:
        proxy.close()


# ---- arrays -------------------------------------------------------------------------

class BotoStore(MutableMapping):
    """A read-only zarr 2 store over a bucket prefix, through boto3."""

    def __init__(self, bucket, prefix):
        self.bucket, self.prefix = bucket, prefix

    def __setitem__(self, key, value):
        raise PermissionError("read-only")

    def __delitem__(self, key):
        raise PermissionError("read-only")

    def __getitem__(self, key):
        try:
            return boto_get(self.bucket, self.prefix + key)
        except s3.exceptions.NoSuchKey:
            raise KeyError(key) from None

    def __contains__(self, key):
        return boto_exists(self.bucket, self.prefix + key)

    def __iter__(self):
        return iter(k[len(self.prefix):] for k in boto_keys(self.bucket, self.prefix))

    def __len__(self):
        return len(boto_keys(self.bucket, self.prefix))


def suite_arrays():
    import zarr

    bucket = fresh_bucket("arrays")
    store = "s3://" + bucket
    local = os.path.join(TMP, "local-store")
    run([TESS, "init", store])
    run([TESS, "init", local])
    nprng = np.random.default_rng(7)
    cases = [
        # name, data, create options
        ("v2/f4", nprng.standard_normal((300, 200)).astype("<f4"),
         ["--chunks", "64,64"]),
        ("v2/i8-zstd", nprng.integers(-10**12, 10**12, (97, 33, 5)).astype(">i8"),
         ["--chunks", "16,16,5", "--codec", "zstd:3", "--separator", "/"]),
        ("v3/i2", nprng.integers(-3000, 3000, (137, 91)).astype("<i2"),
         ["--chunks", "32,32", "--codec", "zstd:3", "--zarr-format", "3"]),
        ("v3/sharded", nprng.integers(0, 60000, (256, 192)).astype("<u2"),
         ["--chunks", "16,16", "--shard", "64,64", "--zarr-format", "3",
          "--codec", "blosc:lz4:5:shuffle"]),
    ]
    for name, arr, opts in cases:
        npy = os.path.join(TMP, name.replace("/", "_") + ".npy")
        np.save(npy, arr)
        t0 = time.monotonic()
        tess(store, "array", "import", name, npy, *opts)
        run([TESS, "--store", local, "array", "import", name, npy, *opts])
        out = npy + ".out.npy"
        tess(store, "array", "export", name, out)
        check(np.array_equal(np.load(out), arr), "%s: exported array differs" % name)
        # a region, and a block written into the middle (read-modify-write of
        # partial chunks and, for the sharded array, of a shard)
        region = tuple(slice(s // 3, s // 3 + s // 2) for s in arr.shape)
        reg = ",".join("%d:%d" % (r.start, r.stop) for r in region)
        tess(store, "array", "export", name, out, "--region", reg)
        check(np.array_equal(np.load(out), arr[region]), "%s: region %s differs" % (name, reg))
        block = (arr[region] // 2 + 1).astype(arr.dtype) if arr.dtype.kind in "iu" \
            else (arr[region] * 2).astype(arr.dtype)
        bnpy = npy + ".block.npy"
        np.save(bnpy, block)
        at = ",".join(str(r.start) for r in region)
        tess(store, "array", "write", name, bnpy, "--at", at)
        run([TESS, "--store", local, "array", "write", name, bnpy, "--at", at])
        arr = arr.copy()
        arr[region] = block
        tess(store, "array", "export", name, out)
        check(np.array_equal(np.load(out), arr), "%s: after a block write the array differs"
              % name)
        # the objects on S3 are those of the same array in a file store
        # (whose Zarr interop tests/array/zarr_interop.py checks)
        root = os.path.join(local, name)
        files = sorted(os.path.relpath(os.path.join(d, f), root)
                       for d, _, fs in os.walk(root) for f in fs)
        keys = sorted(k[len(name) + 1:] for k in boto_keys(bucket, name + "/"))
        check(keys == files, "%s: keys on S3 %s, in the file store %s" % (name, keys, files))
        for f in files:
            check(boto_get(bucket, name + "/" + f) == read_file(os.path.join(root, f)),
                  "%s/%s: the S3 object differs from the file store's" % (name, f))
        if name.startswith("v2/"):
            z = zarr.open_array(BotoStore(bucket, name + "/"), mode="r")
            check(np.array_equal(z[...], arr), "%s: zarr-python reads other data from S3" % name)
        if name == "v3/sharded":
            shards = [k for k in keys if k.startswith("c/")]
            check(len(shards) == 4 * 3, "sharded array: %d shard objects, wanted 12: %s" %
                  (len(shards), shards))
        print("%-12s %s %s ok (%.1f s)" % (name, arr.dtype.str, arr.shape,
                                            time.monotonic() - t0))
    # tess ls shows the same on both stores (arrays with their shapes)
    for args in (["v2"], ["v3"], [], ["-r"], ["-r", "v3/sharded"]):
        ls = []
        for st in (store, local):
            entries = json.loads(tess(st, "ls", "--json", *args).out)
            for e in entries:
                e.pop("mtime", None)
            ls.append(entries)
        check(ls[0] == ls[1], "tess ls %s: on S3 %s, on a file store %s" % (args, ls[0], ls[1]))
    check(any(e.get("array", {}).get("shape") == [256, 192] for e in
              json.loads(tess(store, "ls", "--json", "v3").out)), "tess ls shows no array")


# ---- cp -------------------------------------------------------------------------------

def suite_cp():
    src = os.path.join(TMP, "src")
    files = {
        "one": b"one",
        "empty": b"",
        "sub/two.bin": data(50000),
        "sub/deeper/three": data(3),
        "sub/sp ace/\u00fcnicode \u2713.txt": data(100),
        "big/twenty": data(20 * MiB + 3),  # multipart with the default 8 MiB parts
    }
    for rel, content in files.items():
        path = os.path.join(src, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)
    a = os.path.join(TMP, "a-store")
    c = "lmdb://" + os.path.join(TMP, "c.lmdb")
    bucket = fresh_bucket("cp")
    b = "s3://%s/some/prefix" % bucket
    for st in (a, b, c):
        run([TESS, "init", st])
    t0 = time.monotonic()
    tess(a, "cp", "-r", src, "tree")
    tess(a, "cp", "-r", "--to", b, "tree", "tree")
    check(boto_get(bucket, "some/prefix/tree/big/twenty") == files["big/twenty"],
          "boto3 reads the copied big file")
    tess(b, "cp", "-r", "--to", c, "tree", "copied")
    out = os.path.join(TMP, "out")
    tess(c, "cp", "-r", "copied", out)
    for rel, content in files.items():
        path = os.path.join(out, rel)
        check(os.path.exists(path), "cp lost %s" % rel)
        check(read_file(path) == content, "cp changed %s" % rel)
    got = sorted(os.path.relpath(os.path.join(d, f), out)
                 for d, _, fs in os.walk(out) for f in fs)
    check(got == sorted(files), "cp tree: %s, wanted %s" % (got, sorted(files)))
    # and straight from S3 to a local tree, and a local file to S3
    out2 = os.path.join(TMP, "out2")
    tess(b, "cp", "-r", "tree", out2)
    check(read_file(os.path.join(out2, "big/twenty")) == files["big/twenty"], "S3 -> local tree")
    tess(b, "cp", os.path.join(src, "one"), "single/one")
    check(boto_get(bucket, "some/prefix/single/one") == b"one", "local file -> S3")
    print("cp: %d files, %.1f MiB, through file, s3 and lmdb stores in %.1f s" %
          (len(files), sum(map(len, files.values())) / MiB, time.monotonic() - t0))


SUITES = {
    "interop": suite_interop, "errors": suite_errors, "orphans": suite_orphans,
    "faults": suite_faults, "profile": suite_profile, "virtual": suite_virtual,
    "arrays": suite_arrays, "cp": suite_cp,
}


def main():
    global TMP
    if SUITE not in SUITES:
        sys.exit("usage: s3_interop.py %s S3_TOOL TESS" % "|".join(SUITES))
    t0 = time.monotonic()
    TMP = tempfile.mkdtemp(prefix="tess-s3-%s-" % SUITE)
    try:
        connect()
        SUITES[SUITE]()
    except Failure as e:
        print("s3_interop %s: FAIL: %s" % (SUITE, e), file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("s3_interop %s: PASS (%.1f s)" % (SUITE, time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
