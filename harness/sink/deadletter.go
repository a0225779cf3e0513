package sink

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// DLQ record headers.
const (
	HeaderError     = "tickflow-error"
	HeaderTopic     = "tickflow-source-topic"
	HeaderPartition = "tickflow-source-partition"
	HeaderOffset    = "tickflow-source-offset"
	HeaderTimestamp = "tickflow-source-timestamp" // source record timestamp, Unix ms
)

func (s *Sink) deadLetter(ctx context.Context, r *kgo.Record, cause error) {
	s.stats.dlq.Add(1)
	dr := &kgo.Record{
		// The DLQ record's own timestamp is now, never the source's: kgo
		// fails a record whose timestamp is older than its delivery timeout,
		// so a sink catching up on an old backlog could not dead-letter
		// anything. The source timestamp goes in a header.
		Topic: s.cfg.topic + ".dlq", Key: r.Key, Value: r.Value, Timestamp: time.Now(),
		Headers: append([]kgo.RecordHeader{
			{Key: HeaderError, Value: []byte(cause.Error())},
			{Key: HeaderTopic, Value: []byte(r.Topic)},
			{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
			{Key: HeaderOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
			{Key: HeaderTimestamp, Value: []byte(strconv.FormatInt(r.Timestamp.UnixMilli(), 10))},
		}, r.Headers...),
	}
	s.cfg.log.Warn("sink: poison record to DLQ", "partition", r.Partition, "offset", r.Offset, "err", cause)
	s.client.Produce(ctx, dr, func(_ *kgo.Record, err error) {
		if err != nil {
			e := fmt.Errorf("sink: dead-letter %s[%d]@%d to %s: %w", r.Topic, r.Partition, r.Offset, dr.Topic, err)
			s.dlqErr.CompareAndSwap(nil, &e)
		}
	})
}
