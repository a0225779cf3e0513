#!/usr/bin/python3
"""boto3 conditional writes against `tickflow serve`, answered as AWS does:
If-None-Match: * and If-Match: ETAG on PutObject, CompleteMultipartUpload and
CopyObject; 412 PreconditionFailed when the condition fails, 404 NoSuchKey for
If-Match on a missing key, 501 NotImplemented for If-None-Match other than *.

usage: boto3_conditional.py ENDPOINT BUCKET PREFIX
Credentials and region come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
and AWS_DEFAULT_REGION. Prints one JSON summary line on success; exits 1
with the reason otherwise.

Debian's botocore (1.29) predates conditional writes (2024) and has no
IfNoneMatch/IfMatch parameters for these calls, so the headers are added to
the request before it is signed, exactly as a newer botocore sends them.
"""
import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# Headers to add to the next request (set by call(), read by the hook).
extra = {}


def add_headers(request, **_):
    for k, v in extra.items():
        request.headers[k] = v


def call(fn, headers=None, **kw):
    """Runs fn(**kw) with headers added; returns (result, error code, HTTP status)."""
    extra.clear()
    extra.update(headers or {})
    try:
        return fn(**kw), "", 200
    except ClientError as e:
        return None, e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    finally:
        extra.clear()


def expect(what, got, want_code, want_status):
    _, code, status = got
    if (code, status) != (want_code, want_status):
        sys.exit(f"{what}: got {code or 'success'} ({status}), want {want_code or 'success'} ({want_status})")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    endpoint, bucket, prefix = sys.argv[1:]
    s3 = boto3.client("s3", endpoint_url=endpoint,
                      region_name=os.environ["AWS_DEFAULT_REGION"],
                      config=Config(s3={"addressing_style": "path"},
                                    connect_timeout=5, read_timeout=20,
                                    retries={"max_attempts": 1}))
    s3.meta.events.register("before-sign.s3", add_headers)
    body = lambda key: s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    checks = 0

    key = f"{prefix}/put"
    expect("PutObject If-None-Match: * on a new key", call(s3.put_object, {"If-None-Match": "*"}, Bucket=bucket, Key=key, Body=b"first"), "", 200)
    expect("PutObject If-None-Match: * on an existing key", call(s3.put_object, {"If-None-Match": "*"}, Bucket=bucket, Key=key, Body=b"second"), "PreconditionFailed", 412)
    if body(key) != b"first":
        sys.exit(f"s3://{bucket}/{key}: a refused conditional write changed the object to {body(key)!r}")
    etag = s3.head_object(Bucket=bucket, Key=key)["ETag"]
    expect("PutObject If-None-Match: ETAG", call(s3.put_object, {"If-None-Match": etag}, Bucket=bucket, Key=key, Body=b"x"), "NotImplemented", 501)
    expect("PutObject If-Match: wrong ETag", call(s3.put_object, {"If-Match": '"00"'}, Bucket=bucket, Key=key, Body=b"x"), "PreconditionFailed", 412)
    expect("PutObject If-Match: missing key", call(s3.put_object, {"If-Match": etag}, Bucket=bucket, Key=key + "-missing", Body=b"x"), "NoSuchKey", 404)
    expect("PutObject If-Match: right ETag", call(s3.put_object, {"If-Match": etag}, Bucket=bucket, Key=key, Body=b"third"), "", 200)
    checks += 6

    # Multipart: the condition is checked when the upload completes.
    mkey = f"{prefix}/multipart"
    def complete(headers, data):
        up = s3.create_multipart_upload(Bucket=bucket, Key=mkey)["UploadId"]
        part = s3.upload_part(Bucket=bucket, Key=mkey, UploadId=up, PartNumber=1, Body=data)
        res = call(s3.complete_multipart_upload, headers, Bucket=bucket, Key=mkey, UploadId=up,
                   MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
        if res[1]:
            s3.abort_multipart_upload(Bucket=bucket, Key=mkey, UploadId=up)
        return res
    first = complete({"If-None-Match": "*"}, b"multipart one")
    expect("CompleteMultipartUpload If-None-Match: * on a new key", first, "", 200)
    expect("CompleteMultipartUpload If-None-Match: * on an existing key", complete({"If-None-Match": "*"}, b"multipart two"), "PreconditionFailed", 412)
    expect("CompleteMultipartUpload If-Match: completion's ETag", complete({"If-Match": first[0]["ETag"]}, b"multipart three"), "", 200)
    if body(mkey) != b"multipart three":
        sys.exit(f"s3://{bucket}/{mkey}: holds {body(mkey)!r}, want b'multipart three'")
    checks += 3

    src = {"Bucket": bucket, "Key": key}
    expect("CopyObject If-None-Match: * onto an existing key", call(s3.copy_object, {"If-None-Match": "*"}, Bucket=bucket, Key=mkey, CopySource=src), "PreconditionFailed", 412)
    expect("CopyObject If-None-Match: * onto a new key", call(s3.copy_object, {"If-None-Match": "*"}, Bucket=bucket, Key=f"{prefix}/copy", CopySource=src), "", 200)
    if body(f"{prefix}/copy") != b"third":
        sys.exit(f"s3://{bucket}/{prefix}/copy: holds {body(prefix + '/copy')!r}, want b'third'")
    checks += 2

    print(json.dumps({"client": "boto3", "conditional_checks": checks}))


if __name__ == "__main__":
    main()
