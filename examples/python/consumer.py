#!/usr/bin/python3
"""consumer.py: a Kafka -> S3 consumer that neither loses nor duplicates.

The same job as seed_consumer.py (one JSON document per object, kafka-python
+ boto3), done so that kill -9, SIGTERM, SIGSTOP, rebalances and S3 outages
cannot lose or duplicate a record:

  * Object keys depend only on the record: {prefix}{topic}/{partition}/
    {offset:020d}.json. Writing a record twice (after a crash, a rebalance,
    or a frozen member waking up late) rewrites the same key with the same
    bytes, so the lake still holds it once. No counters, no batch files whose
    boundaries could shift on replay.
  * Auto-commit is off. Each poll() batch is PUT in parallel (a thread pool);
    the batch's offsets are committed only after every PUT succeeded, and the
    next poll() happens only after that. A crash at any point leaves the
    committed offsets at or behind the lake: records are re-read and
    rewritten to the same keys, never skipped.
  * S3 errors (500, 503, timeouts, refused connections) are retried with
    backoff, forever; the process never dies of an S3 outage.
  * A failed commit (the group rebalanced under us) is logged and ignored:
    the new owner re-reads from the last commit and rewrites the same keys.
  * SIGTERM/SIGINT: finish the current batch, commit it, leave the group,
    exit 0.
  * Values are written as-is (bytes unchanged). A value that is not a JSON
    object (a poison record) is not a table row: it is written to
    {prefix}_rejected/{topic}/{partition}/{offset:020d} (Athena and tickflow's
    verdict skip folders starting with "_") and logged on stderr, so its
    offset is still covered and nothing is dropped silently.

Environment (what `tickflow scenario run --consumer` and `tickflow serve`
provide): KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC, KAFKA_GROUP_ID,
AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, TICKFLOW_BUCKET, TICKFLOW_PREFIX
(optional), TICKFLOW_INSTANCE (optional, for logs), AWS_REGION or
AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (read by boto3),
KAFKA_SESSION_TIMEOUT_MS (optional). Tuning: CONSUMER_WORKERS (parallel
PUTs, default 16), CONSUMER_MAX_POLL_RECORDS (default 500).

Needs Debian's python3-kafka (2.0.2) and python3-boto3: run it with
/usr/bin/python3.
"""
import json
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError

INSTANCE = os.environ.get("TICKFLOW_INSTANCE", "0")


def log(msg):
    print("consumer[%s] %s %s" % (INSTANCE, time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


stopping = threading.Event()


def on_signal(signum, _frame):
    if not stopping.is_set():
        log("signal %d: finishing the current batch, then committing and leaving" % signum)
    stopping.set()


class LogRebalance(ConsumerRebalanceListener):
    """Logs assignments. Nothing needs committing on revoke: poll() (where
    kafka-python runs rebalances) is only called once the previous batch is
    written and committed."""

    def on_partitions_revoked(self, revoked):
        log("revoked %s" % sorted(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned):
        log("assigned %s" % sorted(tp.partition for tp in assigned))


def object_key(prefix, topic, partition, offset, row):
    """The key of a record's object: a pure function of the record."""
    if row:
        return "%s%s/%d/%020d.json" % (prefix, topic, partition, offset)
    return "%s_rejected/%s/%d/%020d" % (prefix, topic, partition, offset)


def is_json_object(value):
    if value is None:
        return False
    try:
        return isinstance(json.loads(value), dict)
    except ValueError:  # not UTF-8 or not JSON
        return False


def put_with_retry(s3, bucket, key, body):
    """PUT one object, retrying every error with capped exponential backoff.

    A retried PUT may land twice (a PUT that timed out on our side and was
    delivered late): harmless, same key and same bytes.
    """
    delay = 0.1
    attempt = 0
    while True:
        attempt += 1
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            if attempt > 1:
                log("PUT %s succeeded after %d attempts" % (key, attempt))
            return
        except Exception as e:  # botocore ClientError, EndpointConnectionError, timeouts...
            if attempt == 1 or attempt % 10 == 0:
                log("PUT %s failed (attempt %d), retrying in %.1fs: %s" % (key, attempt, delay, e))
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    topic = os.environ["KAFKA_TOPIC"]
    bucket = os.environ["TICKFLOW_BUCKET"]
    prefix = os.environ.get("TICKFLOW_PREFIX", "")
    workers = int(os.environ.get("CONSUMER_WORKERS", "16"))
    max_records = int(os.environ.get("CONSUMER_MAX_POLL_RECORDS", "500"))
    # Debian's boto3 1.26 ignores AWS_ENDPOINT_URL*: pass the endpoint by hand.
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        config=Config(
            s3={"addressing_style": "path"},
            connect_timeout=5,
            read_timeout=30,
            # botocore retries a few times itself; put_with_retry retries forever.
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=workers,
        ),
    )

    kwargs = {}
    session_ms = os.environ.get("KAFKA_SESSION_TIMEOUT_MS")
    if session_ms:
        session_ms = int(session_ms)
        kwargs["session_timeout_ms"] = session_ms
        kwargs["heartbeat_interval_ms"] = max(100, min(3000, session_ms // 3))
        # kafka-python wants request_timeout_ms above the session timeout.
        kwargs["request_timeout_ms"] = max(305000, session_ms + 5000)

    consumer = KafkaConsumer(
        bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"].split(","),
        group_id=os.environ["KAFKA_GROUP_ID"],
        client_id="tickflow-example-%s" % INSTANCE,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_records,
        **kwargs
    )
    consumer.subscribe([topic], listener=LogRebalance())
    log("consuming %s as group %s, writing to s3://%s/%s via %s" % (topic, os.environ["KAFKA_GROUP_ID"], bucket, prefix, endpoint))

    pool = ThreadPoolExecutor(max_workers=workers)
    written = 0
    try:
        while not stopping.is_set():
            try:
                batch = consumer.poll(timeout_ms=1000, max_records=max_records)
            except KafkaError as e:
                log("poll: %s (retrying)" % e)
                time.sleep(1)
                continue
            if not batch:
                continue

            # PUT every record of the batch, in parallel. put_with_retry only
            # returns once its PUT succeeded, so when all futures are done the
            # whole batch is in S3. A signal arriving now does not interrupt
            # this: the batch is finished first.
            futures = []
            commit = {}
            for tp, records in batch.items():
                for r in records:
                    row = is_json_object(r.value)
                    key = object_key(prefix, tp.topic, tp.partition, r.offset, row)
                    if not row:
                        log("record %s/%d@%d is not a JSON object, kept under %s" % (tp.topic, tp.partition, r.offset, key))
                    futures.append(pool.submit(put_with_retry, s3, bucket, key, r.value or b""))
                commit[TopicPartition(tp.topic, tp.partition)] = OffsetAndMetadata(records[-1].offset + 1, None)
            for f in futures:
                f.result()
            written += len(futures)

            # Only now: commit the batch's offsets (the next record to read).
            try:
                consumer.commit(offsets=commit)
            except KafkaError as e:
                # Most likely a rebalance took the partitions away: the new
                # owner re-reads from the previous commit and rewrites the
                # same keys. Nothing is lost.
                log("commit of %s failed, records will be re-read: %s" % (
                    ", ".join("%d@%d" % (tp.partition, om.offset) for tp, om in sorted(commit.items())), e))
    finally:
        pool.shutdown(wait=True)
        try:
            consumer.close(autocommit=False)  # leaves the group
        except Exception as e:
            log("close: %s" % e)
    log("stopped after writing %d records" % written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
