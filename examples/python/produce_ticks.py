#!/usr/bin/python3
"""produce_ticks.py N [FIRST]: produce N synthetic ticks, uncompressed, for
trying a consumer by hand against `tickflow serve` (kafka-python cannot read
snappy batches, which `tickflow produce` wrote before --compression).

Each tick carries a unique sequence number in its volume field (FIRST,
FIRST+1, ...; FIRST defaults to 0), as the scenarios' ticks do, so that
count_lake.py can tell lost and duplicated records apart. Keyed by symbol.
Reads KAFKA_BOOTSTRAP_SERVERS and KAFKA_TOPIC (default stock-ticks);
KAFKA_COMPRESSION=gzip compresses the batches.
"""
import json
import os
import sys
from datetime import date, timedelta

from kafka import KafkaProducer

SYMBOLS = ["HSI", "N225", "GSPC", "IXIC", "NYA", "000001.SS", "GDAXI", "FTSE", "SSMI", "TWII"]


def main():
    n = int(sys.argv[1])
    first = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    topic = os.environ.get("KAFKA_TOPIC", "stock-ticks")
    producer = KafkaProducer(
        bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"].split(","),
        acks="all",
        compression_type=os.environ.get("KAFKA_COMPRESSION") or None,
        linger_ms=5,
    )
    day0 = date(2000, 1, 3)
    for seq in range(first, first + n):
        sym = SYMBOLS[seq % len(SYMBOLS)]
        px = 1000.0 + (seq % 997)
        tick = {"symbol": sym, "trade_date": (day0 + timedelta(days=seq // len(SYMBOLS))).isoformat(),
                "open": px, "high": px + 5, "low": px - 5, "close": px + 1, "adj_close": px + 1,
                "volume": seq, "close_usd": round((px + 1) / 7.8, 4)}
        producer.send(topic, key=sym.encode(), value=json.dumps(tick).encode())
    producer.flush()
    producer.close()
    print("produced %d ticks (volume %d..%d) to %s" % (n, first, first + n - 1, topic))


if __name__ == "__main__":
    main()
