#!/usr/bin/python3
"""The peer of bench_s3: boto3 doing the same S3 work on the same server.

    s3_peer.py CONFIG    read commands on stdin, one JSON object per line;
                         answer each with one JSON line on stdout

bench_s3 writes CONFIG (JSON) and the data files into its work dir, starts
this script once and sends it commands case by case, so that Tessera and
boto3 take turns on a shared machine.  The first line on stdout is
{"versions": {...}}.  Progress and errors go to stderr.

CONFIG: {"endpoint", "region", "bucket", "threads", "small": {"path",
"count", "size"}, "large": {"path", "size"}}.  Credentials come from
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, as for bench_s3.  The client is
made once, with max_pool_connections = threads (the concurrent rows' thread
count), and used by every command.

Commands (every answer is {"op", "secs"}; what is read is checked against
the data after the clock stops, and a mismatch ends the script):
    {"op": "small_put", "mode": "seq"|"conc", "prefix": P}
        put_object of small object i at P + "%04d" % i, one after the other
        ("seq") or from a ThreadPoolExecutor of `threads` threads ("conc")
    {"op": "small_get", "mode": "seq"|"conc", "prefix": P}
        get_object(...)["Body"].read() of the same keys
    {"op": "large_put", "src": "mem"|"file", "key": K}
        upload_fileobj from an io.BytesIO of the data, or from the data
        file opened for reading; boto3's default TransferConfig
    {"op": "large_get", "dst": "mem"|"file", "key": K, "path": OUT}
        download_fileobj into an io.BytesIO, or into OUT opened for writing
        (no fsync, as bench_s3's side)
    {"op": "cleanup"}
        abort open multipart uploads, delete every object, delete the bucket
"""
import io
import json
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def log(msg):
    print("  boto3: " + msg, file=sys.stderr, flush=True)


def die(msg):
    raise SystemExit("s3_peer: " + msg)


class Peer:
    def __init__(self, config):
        import boto3
        from botocore.config import Config
        self.cfg = config
        self.bucket = config["bucket"]
        self.threads = config["threads"]
        self.client = boto3.client(
            "s3", endpoint_url=config["endpoint"], region_name=config["region"],
            config=Config(max_pool_connections=self.threads))
        small = config["small"]
        with open(small["path"], "rb") as f:
            blob = f.read()
        n, size = small["count"], small["size"]
        if len(blob) != n * size:
            die("%s holds %d bytes, expected %d" % (small["path"], len(blob), n * size))
        self.small = [blob[i * size:(i + 1) * size] for i in range(n)]
        del blob
        with open(config["large"]["path"], "rb") as f:
            self.large = f.read()
        if len(self.large) != config["large"]["size"]:
            die("%s holds %d bytes, expected %d" % (config["large"]["path"], len(self.large),
                                                    config["large"]["size"]))

    # ---- small objects ------------------------------------------------------

    def _put(self, key, data):
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def _get(self, key):
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def _run(self, mode, fn, args):
        """fn over args one at a time or from `threads` threads; the results."""
        if mode == "seq":
            return [fn(*a) for a in args]
        if mode != "conc":
            die("unknown mode '%s'" % mode)
        with ThreadPoolExecutor(max_workers=self.threads) as pool:
            return list(pool.map(lambda a: fn(*a), args))

    def small_put(self, cmd):
        args = [(cmd["prefix"] + "%04d" % i, d) for i, d in enumerate(self.small)]
        t = time.perf_counter()
        self._run(cmd["mode"], self._put, args)
        return time.perf_counter() - t

    def small_get(self, cmd):
        args = [(cmd["prefix"] + "%04d" % i,) for i in range(len(self.small))]
        t = time.perf_counter()
        got = self._run(cmd["mode"], self._get, args)
        t = time.perf_counter() - t
        for i, d in enumerate(got):
            if d != self.small[i]:
                die("get %s: %d bytes that differ from the data" % (args[i][0], len(d)))
        return t

    # ---- the large object -----------------------------------------------------

    def large_put(self, cmd):
        src = cmd["src"]
        if src == "mem":
            f = io.BytesIO(self.large)
        elif src == "file":
            f = open(self.cfg["large"]["path"], "rb")
        else:
            die("unknown src '%s'" % src)
        t = time.perf_counter()
        self.client.upload_fileobj(f, self.bucket, cmd["key"])
        t = time.perf_counter() - t
        f.close()
        return t

    def large_get(self, cmd):
        dst = cmd["dst"]
        if dst == "mem":
            f = io.BytesIO()
        elif dst == "file":
            f = open(cmd["path"], "wb")
        else:
            die("unknown dst '%s'" % dst)
        t = time.perf_counter()
        self.client.download_fileobj(self.bucket, cmd["key"], f)
        t = time.perf_counter() - t
        if dst == "mem":
            same = f.getbuffer() == memoryview(self.large)
        else:
            f.close()
            with open(cmd["path"], "rb") as g:
                same = g.read() == self.large
            os.unlink(cmd["path"])
        f.close()
        if not same:
            die("download of %s differs from the data" % cmd["key"])
        return t

    # ---- the end ----------------------------------------------------------------

    def cleanup(self, cmd):
        t = time.perf_counter()
        c, b = self.client, self.bucket
        for page in c.get_paginator("list_multipart_uploads").paginate(Bucket=b):
            for u in page.get("Uploads", []):
                c.abort_multipart_upload(Bucket=b, Key=u["Key"], UploadId=u["UploadId"])
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=b):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                c.delete_objects(Bucket=b, Delete={"Objects": keys, "Quiet": True})
        c.delete_bucket(Bucket=b)
        return time.perf_counter() - t


def versions():
    import boto3
    import botocore
    import s3transfer
    return {"python": sys.version.split()[0], "boto3": boto3.__version__,
            "botocore": botocore.__version__, "s3transfer": s3transfer.__version__}


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    # Ctrl-C reaches the whole process group: end quietly, bench_s3 reports
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    with open(sys.argv[1]) as f:
        config = json.load(f)
    print(json.dumps({"versions": versions()}), flush=True)
    peer = Peer(config)
    ops = {"small_put": peer.small_put, "small_get": peer.small_get,
           "large_put": peer.large_put, "large_get": peer.large_get,
           "cleanup": peer.cleanup}
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        op = cmd.get("op")
        if op not in ops:
            die("unknown command %r" % line.strip())
        secs = ops[op](cmd)
        print(json.dumps({"op": op, "secs": secs}), flush=True)


if __name__ == "__main__":
    main()
