#!/usr/bin/python3
"""kafka-python against `tickflow serve`, written the way the seed project is.

The producer is the seed's KafkaProducer (bootstrap list + a JSON
value_serializer) sending tick dicts read from the seed's CSV format; the
topic is new, so it only exists if the broker auto-creates it for this old
client's Metadata request. A consumer in a group then reads every tick back
and the script compares them one by one.

usage: kafka_python_roundtrip.py BOOTSTRAP TOPIC CSV COUNT
Prints one JSON summary line on success; exits 1 with the reason otherwise.
"""
import csv
import sys
import time
from json import dumps, loads

from kafka import KafkaConsumer, KafkaProducer


def ticks(path, count):
    """The first count rows of a seed CSV as the Kafka value tickflow uses."""
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if len(out) == count:
                break
            out.append({
                "symbol": row["Index"],
                "trade_date": row["Date"],
                "open": float(row["Open"]),
                "high": float(row["High"]),
                "low": float(row["Low"]),
                "close": float(row["Close"]),
                "adj_close": float(row["Adj Close"]),
                "volume": int(float(row["Volume"])),
                "close_usd": float(row["CloseUSD"]),
            })
    if len(out) != count:
        sys.exit(f"{path}: only {len(out)} rows, want {count}")
    return out


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    bootstrap, topic, path, count = sys.argv[1].split(","), sys.argv[2], sys.argv[3], int(sys.argv[4])
    sent = ticks(path, count)

    start = time.monotonic()
    producer = KafkaProducer(bootstrap_servers=bootstrap,
                             value_serializer=lambda x: dumps(x).encode('utf-8'),
                             max_block_ms=20000, request_timeout_ms=10000)
    futures = [producer.send(topic, value=t) for t in sent]
    producer.flush(timeout=20)
    metas = [f.get(timeout=20) for f in futures]
    producer.close(timeout=5)
    produced = time.monotonic() - start

    consumer = KafkaConsumer(topic,
                             bootstrap_servers=bootstrap,
                             group_id=topic + "-readers",
                             auto_offset_reset="earliest",
                             enable_auto_commit=True,
                             consumer_timeout_ms=20000,
                             value_deserializer=lambda x: loads(x.decode('utf-8')))
    got = {}
    for msg in consumer:
        got[(msg.partition, msg.offset)] = msg.value
        if len(got) == count:
            break
    consumer.commit()
    consumer.close()
    consumed = time.monotonic() - start - produced

    if len(got) != count:
        sys.exit(f"consumed {len(got)} of {count} ticks from {topic} before the 20 s timeout")
    for i, (t, m) in enumerate(zip(sent, metas)):
        back = got.get((m.partition, m.offset))
        if back != t:
            sys.exit(f"tick {i} at {topic}[{m.partition}]@{m.offset}: sent {t}, read back {back}")
    partitions = sorted({m.partition for m in metas})
    print(dumps({"client": "kafka-python", "topic": topic, "ticks": count,
                 "partitions_used": partitions,
                 "produce_seconds": round(produced, 3), "consume_seconds": round(consumed, 3)}))


if __name__ == "__main__":
    main()
