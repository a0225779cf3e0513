#!/usr/bin/python3
"""count_lake.py N [FIRST]: read every object under s3://$TICKFLOW_BUCKET/
$TICKFLOW_PREFIX back and count, by the volume sequence number that
produce_ticks.py puts in every tick, how many of the N produced records
(volume FIRST..FIRST+N-1) are in the lake: objects, rows, distinct, lost,
duplicated. Objects in folders starting with "_" or "." are skipped, as
Athena does. An object may hold one JSON document or JSON Lines.
Exit 0 only when nothing is lost or duplicated.
"""
import collections
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config


def main():
    n = int(sys.argv[1])
    first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    bucket = os.environ["TICKFLOW_BUCKET"]
    prefix = os.environ.get("TICKFLOW_PREFIX", "")
    s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"),
                      config=Config(s3={"addressing_style": "path"}, max_pool_connections=16))
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            rel = o["Key"][len(prefix):]
            if any(part.startswith(("_", ".")) for part in rel.split("/")):
                continue
            keys.append(o["Key"])

    def read(key):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        try:
            return [json.loads(body)]
        except ValueError:
            return [json.loads(line) for line in body.splitlines() if line.strip()]

    seen = collections.Counter()
    rows = 0
    with ThreadPoolExecutor(16) as pool:
        for docs in pool.map(read, keys):
            for d in docs:
                rows += 1
                seen[d.get("volume")] += 1
    want = set(range(first, first + n))
    distinct = len([v for v in seen if v in want])
    lost = sorted(want - set(seen))
    dup = sum(c - 1 for v, c in seen.items() if c > 1)
    extra = len([v for v in seen if v not in want])
    print("produced %d  objects %d  rows %d  distinct %d  lost %d  duplicated %d  unknown %d"
          % (n, len(keys), rows, distinct, len(lost), dup, extra))
    if lost:
        print("lost e.g. volume %s" % lost[:10])
    return 0 if not lost and not dup else 1


if __name__ == "__main__":
    sys.exit(main())
