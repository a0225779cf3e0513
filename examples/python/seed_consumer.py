#!/usr/bin/python3
# seed_consumer.py: the NEGATIVE CONTROL. This is the 20-line consumer the
# stock-market pipeline started with (kafka-python + boto3, one object per
# record), kept as broken as it was so that `tickflow scenario run
# sink-kill-9 --consumer '/usr/bin/python3 examples/python/seed_consumer.py'`
# has something to catch. Do not copy it. Why it loses and duplicates:
#
#   1. Objects are named stock_market_{count}.json with a counter that starts
#      at 0 in every process: a restarted (or second) process overwrites the
#      objects the first one wrote, so their records are gone from the lake.
#   2. Auto-commit (the default) commits whatever poll() returned every 5 s,
#      on a background schedule unrelated to the writes: kill -9 after a
#      commit and before the write loses records; kill -9 after the write and
#      before a commit makes the next owner write them again (duplicates).
#   3. No retries: one S3 error (503, timeout) kills the process.
#   4. SIGTERM is not handled: the process dies mid-write without committing.
#
# The only changes from the original: the coordinates come from the
# environment `tickflow serve` / `tickflow scenario run` documents (Debian's
# boto3 1.26 ignores AWS_ENDPOINT_URL*, so the endpoint is passed by hand), it
# joins KAFKA_GROUP_ID, and it reads from the earliest offset, so that what
# it loses is lost to the bugs above, not to starting after the producer.
import json
import os

import boto3
from kafka import KafkaConsumer

consumer = KafkaConsumer(
    os.environ["KAFKA_TOPIC"],
    bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"].split(","),
    group_id=os.environ["KAFKA_GROUP_ID"],
    auto_offset_reset="earliest",
    value_deserializer=lambda x: json.loads(x.decode("utf-8")),
)
s3 = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))
bucket, prefix = os.environ["TICKFLOW_BUCKET"], os.environ.get("TICKFLOW_PREFIX", "")

for count, message in enumerate(consumer):
    s3.put_object(Bucket=bucket, Key="{}stock_market_{}.json".format(prefix, count), Body=json.dumps(message.value))
