#!/usr/bin/python3
"""boto3 against `tickflow serve` with its signature checks on: wrong keys are
refused as AWS refuses them, the printed keys work, presigned URLs work.

usage: boto3_auth.py ENDPOINT BUCKET PREFIX
The printed credentials and region come from AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION. Prints one JSON summary line
on success; exits 1 with the reason otherwise.
"""
import json
import os
import sys
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def client(endpoint, key, secret, region):
    return boto3.client("s3", endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                      connect_timeout=5, read_timeout=20, retries={"max_attempts": 1}))


def refused(what, fn, want):
    try:
        fn()
    except ClientError as e:
        code = e.response["Error"]["Code"]
        if code != want:
            sys.exit(f"{what}: refused with {code}, want {want}")
        return
    sys.exit(f"{what}: accepted, want {want}")


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    endpoint, bucket, prefix = sys.argv[1:]
    key, secret, region = (os.environ[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"))
    obj = f"{prefix}/signed.txt"

    good = client(endpoint, key, secret, region)
    good.put_object(Bucket=bucket, Key=obj, Body=b"signed body")

    for what, c, want in [
        ("wrong access key", client(endpoint, "AKIAWRONGKEY", secret, region), "InvalidAccessKeyId"),
        ("wrong secret key", client(endpoint, key, secret + "-typo", region), "SignatureDoesNotMatch"),
    ]:
        refused(f"put_object with a {what}", lambda: c.put_object(Bucket=bucket, Key=f"{prefix}/denied.txt", Body=b"x"), want)
        refused(f"get_object with a {what}", lambda: c.get_object(Bucket=bucket, Key=obj), want)
    # A wrong region is refused with AuthorizationHeaderMalformed naming the
    # bucket's region; botocore re-signs for that region and succeeds, as on AWS.
    if client(endpoint, key, secret, "eu-central-1").get_object(Bucket=bucket, Key=obj)["Body"].read() != b"signed body":
        sys.exit("get_object signed for a wrong region: wrong content after the region redirect")
    refused("the refused put stored nothing", lambda: good.head_object(Bucket=bucket, Key=f"{prefix}/denied.txt"), "404")

    url = good.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": obj}, ExpiresIn=300)
    with urllib.request.urlopen(url, timeout=20) as r:
        if r.read() != b"signed body":
            sys.exit(f"presigned GET {url}: wrong content")
    bad = client(endpoint, key, "not-the-secret", region).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": obj}, ExpiresIn=300)
    try:
        urllib.request.urlopen(bad, timeout=20)
        sys.exit("presigned GET signed with a wrong secret: accepted")
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        if e.code != 403 or "<Code>SignatureDoesNotMatch</Code>" not in body:
            sys.exit(f"presigned GET signed with a wrong secret: {e.code} {body}")

    print(json.dumps({"client": "boto3", "refused": 4, "presigned": "ok"}))


if __name__ == "__main__":
    main()
