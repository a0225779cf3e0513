#!/usr/bin/python3
"""boto3 against `tickflow serve`: put, get, head, list, a multipart upload
and delete on the served bucket, byte-exact.

usage: boto3_roundtrip.py ENDPOINT BUCKET PREFIX
Credentials and region come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
and AWS_DEFAULT_REGION. Prints one JSON summary line on success; exits 1
with the reason otherwise.
"""
import hashlib
import io
import json
import os
import sys
import time

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

MiB = 1024 * 1024


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    endpoint, bucket, prefix = sys.argv[1:]
    s3 = boto3.client("s3", endpoint_url=endpoint,
                      region_name=os.environ["AWS_DEFAULT_REGION"],
                      config=Config(s3={"addressing_style": "path"},
                                    connect_timeout=5, read_timeout=20,
                                    retries={"max_attempts": 2}))
    start = time.monotonic()

    objects = {f"{prefix}/dt=2010-01-{d:02d}/tick-{d}.json": json.dumps(
        {"symbol": "HSI", "trade_date": f"2010-01-{d:02d}", "close": 21000.5 + d}).encode()
        for d in range(1, 6)}
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    for key, body in objects.items():
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if got != body:
            sys.exit(f"get s3://{bucket}/{key}: read {got!r}, put {body!r}")
        size = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        if size != len(body):
            sys.exit(f"head s3://{bucket}/{key}: ContentLength {size}, want {len(body)}")

    # Paged listing: MaxKeys smaller than the object count, deduplicated
    # because the fake may repeat a boundary entry.
    listed, token = set(), None
    while True:
        kw = {"Bucket": bucket, "Prefix": prefix + "/", "MaxKeys": 2}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_objects_v2(**kw)
        listed.update(o["Key"] for o in page.get("Contents", []))
        if not page.get("IsTruncated"):
            break
        token = page["NextContinuationToken"]
    if listed != set(objects):
        sys.exit(f"list s3://{bucket}/{prefix}/: got {sorted(listed)}, want {sorted(objects)}")

    # Multipart: 11 MiB in 5 MiB parts, the way upload_fileobj sends large files.
    big = bytes(range(256)) * (11 * MiB // 256)
    big_key = f"{prefix}/big.bin"
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, use_threads=False)
    s3.upload_fileobj(io.BytesIO(big), bucket, big_key, Config=cfg)
    buf = io.BytesIO()
    s3.download_fileobj(bucket, big_key, buf, Config=cfg)
    if hashlib.sha256(buf.getvalue()).digest() != hashlib.sha256(big).digest():
        sys.exit(f"multipart s3://{bucket}/{big_key}: downloaded {len(buf.getvalue())} bytes that differ from the {len(big)} uploaded")

    first = next(iter(objects))
    s3.delete_object(Bucket=bucket, Key=first)
    left = s3.list_objects_v2(Bucket=bucket, Prefix=first).get("KeyCount", 0)
    if left != 0:
        sys.exit(f"delete s3://{bucket}/{first}: still listed ({left})")

    print(json.dumps({"client": "boto3", "bucket": bucket, "objects": len(objects),
                      "multipart_bytes": len(big), "seconds": round(time.monotonic() - start, 3)}))


if __name__ == "__main__":
    main()
