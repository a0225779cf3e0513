#!/usr/bin/python3
"""confluent_consumer.py: consumer.py on confluent-kafka (librdkafka).

The same job and the same rules as consumer.py, with the other Python Kafka
client: one JSON document per object, written so that kill -9, SIGTERM,
SIGSTOP, rebalances and S3 outages cannot lose or duplicate a record.

  * Object keys depend only on the record: {prefix}{topic}/{partition}/
    {offset:020d}.json. A record written twice (after a crash, a rebalance,
    or by a frozen member waking up late) rewrites the same key with the
    same bytes, so the lake still holds it once.
  * enable.auto.commit and enable.auto.offset.store are off. Each consume()
    batch is PUT in parallel (a thread pool); its offsets are committed
    synchronously only after every PUT succeeded, and the next consume()
    happens only after that. A crash at any point leaves the committed
    offsets at or behind the lake: records are re-read and rewritten to the
    same keys, never skipped.
  * Revocation is the fence. librdkafka runs on_assign/on_revoke/on_lost
    inside consume() (and close()), never while a batch is being written, so
    a revoke finds nothing in flight to flush. The callbacks keep the set of
    owned partitions: records that consume() returned for a partition the
    same call revoked are dropped (not written, not committed: the new owner
    reads them from the last commit), and a batch commits only the
    partitions still owned, in the assignment it was read in. A member
    frozen past its session (a zombie) finishes its PUTs when it wakes up:
    they rewrite keys the new owner writes with the same bytes, and its
    commit is refused by the broker (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION),
    logged and dropped.
  * S3 errors (500, 503, timeouts, refused connections) are retried with
    backoff until they succeed, or until SIGTERM: then the batch is
    abandoned uncommitted (the next owner writes it).
  * SIGTERM/SIGINT: finish the current batch, commit it, leave the group
    (close()), exit 0.
  * Values are written as-is (bytes unchanged). A value that is not a JSON
    object (a poison record) is written to {prefix}_rejected/{topic}/
    {partition}/{offset:020d} (Athena and tickflow's verdict skip folders
    starting with "_") and logged on stderr, so its offset is still covered.

Environment: the same as consumer.py (KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC,
KAFKA_GROUP_ID, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, TICKFLOW_BUCKET,
TICKFLOW_PREFIX, TICKFLOW_INSTANCE, AWS_REGION or AWS_DEFAULT_REGION,
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, KAFKA_SESSION_TIMEOUT_MS), and
CONSUMER_WORKERS (parallel PUTs, default 16), CONSUMER_MAX_POLL_RECORDS
(records per consume(), default 500).

CONSUMER_BUG=commit-before-put makes it the negative control: it commits a
batch's offsets before PUTting it ("commit, then write"), the bug
kill-after-commit catches. The interop tests use it to check that the
verdict counts the loss exactly.

Needs Debian's python3-confluent-kafka (1.7, librdkafka 2.0) and
python3-boto3: run it with /usr/bin/python3.
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
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

INSTANCE = os.environ.get("TICKFLOW_INSTANCE", "0")


def log(msg):
    print("confluent-consumer[%s] %s %s" % (INSTANCE, time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


stopping = threading.Event()


def on_signal(signum, _frame):
    if not stopping.is_set():
        log("signal %d: finishing the current batch, then committing and leaving" % signum)
    stopping.set()


class Ownership:
    """The partitions this member owns, as the rebalance callbacks say.

    The callbacks run on the main thread, inside consume() or close(), so no
    lock is needed; `generation` counts revocations, so a batch can tell
    whether the assignment it was read in is still the current one."""

    def __init__(self):
        self.owned = set()
        self.generation = 0

    def on_assign(self, _consumer, partitions):
        self.owned |= {(tp.topic, tp.partition) for tp in partitions}
        log("assigned %s" % sorted(tp.partition for tp in partitions))

    def on_revoke(self, _consumer, partitions):
        # Nothing to flush: the previous batch was written and committed
        # before consume() was called again.
        self.generation += 1
        self.owned -= {(tp.topic, tp.partition) for tp in partitions}
        if partitions:
            log("revoked %s" % sorted(tp.partition for tp in partitions))

    def on_lost(self, _consumer, partitions):
        # The session expired (this member was frozen or cut off): another
        # member may own these already, and a commit would be refused.
        self.generation += 1
        self.owned -= {(tp.topic, tp.partition) for tp in partitions}
        if partitions:
            log("lost %s (session expired)" % sorted(tp.partition for tp in partitions))


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

    Returns True once the PUT succeeded, False when a signal asked to stop
    while it was failing (the batch is then abandoned, uncommitted). A
    retried PUT may land twice: harmless, same key and same bytes.
    """
    delay = 0.1
    attempt = 0
    while True:
        attempt += 1
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            if attempt > 1:
                log("PUT %s succeeded after %d attempts" % (key, attempt))
            return True
        except Exception as e:  # botocore ClientError, EndpointConnectionError, timeouts...
            if stopping.is_set():
                log("PUT %s failed while stopping, abandoning the batch: %s" % (key, e))
                return False
            if attempt == 1 or attempt % 10 == 0:
                log("PUT %s failed (attempt %d), retrying in %.1fs: %s" % (key, attempt, delay, e))
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    topic = os.environ["KAFKA_TOPIC"]
    group = os.environ["KAFKA_GROUP_ID"]
    bucket = os.environ["TICKFLOW_BUCKET"]
    prefix = os.environ.get("TICKFLOW_PREFIX", "")
    workers = int(os.environ.get("CONSUMER_WORKERS", "16"))
    max_records = int(os.environ.get("CONSUMER_MAX_POLL_RECORDS", "500"))
    bug = os.environ.get("CONSUMER_BUG", "")
    if bug not in ("", "commit-before-put"):
        log("unknown CONSUMER_BUG %r" % bug)
        return 2
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
            # botocore retries a few times itself; put_with_retry retries until stopped.
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=workers,
        ),
    )

    conf = {
        "bootstrap.servers": os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        "group.id": group,
        "client.id": "tickflow-confluent-example-%s" % INSTANCE,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        # New partitions (partitions-added-mid-run) are seen within 10s, not librdkafka's 5 min.
        "topic.metadata.refresh.interval.ms": 10000,
    }
    session_ms = os.environ.get("KAFKA_SESSION_TIMEOUT_MS")
    if session_ms:
        session_ms = int(session_ms)
        conf["session.timeout.ms"] = session_ms
        conf["heartbeat.interval.ms"] = max(100, min(3000, session_ms // 3))

    own = Ownership()
    consumer = Consumer(conf)
    consumer.subscribe([topic], on_assign=own.on_assign, on_revoke=own.on_revoke, on_lost=own.on_lost)
    log("consuming %s as group %s, writing to s3://%s/%s via %s" % (topic, group, bucket, prefix, endpoint))

    pool = ThreadPoolExecutor(max_workers=workers)
    written = 0
    try:
        while not stopping.is_set():
            try:
                msgs = consumer.consume(num_messages=max_records, timeout=1.0)
            except KafkaException as e:
                log("consume: %s (retrying)" % e)
                time.sleep(1)
                continue
            if not msgs:
                continue

            # Rebalance callbacks ran inside consume(): what it returned for
            # a partition revoked meanwhile is not ours to write or commit.
            generation = own.generation
            batch = []
            commit = {}
            dropped = 0
            for m in msgs:
                err = m.error()
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        log("consume error: %s" % err)
                    continue
                tp = (m.topic(), m.partition())
                if tp not in own.owned:
                    dropped += 1
                    continue
                batch.append(m)
                commit[tp] = max(commit.get(tp, -1), m.offset() + 1)
            if dropped:
                log("dropped %d records of partitions revoked while they were fetched" % dropped)
            if bug == "commit-before-put" and commit:
                try:  # the bug: a kill between this commit and the PUTs loses the batch
                    consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in sorted(commit.items())], asynchronous=False)
                except KafkaException as e:
                    log("commit failed: %s" % e)
                commit = {}
            futures = []
            for m in batch:
                row = is_json_object(m.value())
                key = object_key(prefix, m.topic(), m.partition(), m.offset(), row)
                if not row:
                    log("record %s/%d@%d is not a JSON object, kept under %s" % (m.topic(), m.partition(), m.offset(), key))
                futures.append(pool.submit(put_with_retry, s3, bucket, key, m.value() or b""))

            # Every PUT of the batch, then (only then) the commit. A signal
            # arriving now does not interrupt this: the batch is finished,
            # or abandoned if S3 still fails once we are asked to stop.
            ok = all([f.result() for f in futures])
            written += len(futures)
            if not ok or not commit:
                continue
            if own.generation != generation:  # cannot happen outside consume(); kept as the rule
                log("assignment changed during the batch, not committing it")
                continue
            offsets = [TopicPartition(t, p, o) for (t, p), o in sorted(commit.items()) if (t, p) in own.owned]
            try:
                for tp in consumer.commit(offsets=offsets, asynchronous=False) or []:
                    if tp.error is not None:
                        log("commit of %d@%d failed, records will be re-read: %s" % (tp.partition, tp.offset, tp.error))
            except KafkaException as e:
                # The group moved on without us (a rebalance, or we were
                # frozen past the session): the new owner re-reads from the
                # previous commit and rewrites the same keys. Nothing is lost.
                log("commit of %s failed, records will be re-read: %s" % (
                    ", ".join("%d@%d" % (tp.partition, tp.offset) for tp in offsets), e))
    finally:
        pool.shutdown(wait=True)
        try:
            consumer.close()  # runs on_revoke and leaves the group; commits nothing more
        except Exception as e:
            log("close: %s" % e)
    log("stopped after writing %d records" % written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
