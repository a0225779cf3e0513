package sink

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/objstore"
)

// DLQ record headers.
const (
	HeaderError     = "tickflow-error"
	HeaderTopic     = "tickflow-source-topic"
	HeaderPartition = "tickflow-source-partition"
	HeaderOffset    = "tickflow-source-offset"
	HeaderTimestamp = "tickflow-source-timestamp" // source record timestamp, Unix ms

	// A record too large for the dead-letter topic goes there truncated,
	// with these headers; the whole record is in S3 (DeadLetterKey).
	HeaderTruncated    = "tickflow-truncated"     // "true"
	HeaderOriginalSize = "tickflow-original-size" // bytes of the source record's value
	HeaderOriginalKey  = "tickflow-original-key-size"
	HeaderObject       = "tickflow-dead-letter-object" // s3://bucket/key of the whole record's value
)

// DeadLetterPrefix is the folder (below --prefix, beside stock_ticks/)
// that holds records too large for the dead-letter topic. Its name starts
// with '_', so Athena, crawlers and the lake checker skip it.
const DeadLetterPrefix = "_dead_letters"

// DeadLetterKey is the object that holds the value of the source record
// topic/partition@offset when it was too large for the dead-letter topic:
// <prefix>/_dead_letters/<topic>/<partition>/<offset>. A key larger than
// fits in the object's metadata is stored beside it, at DeadLetterKey+".key".
func DeadLetterKey(prefix, topic string, partition int32, offset int64) string {
	k := fmt.Sprintf("%s/%s/%d/%d", DeadLetterPrefix, topic, partition, offset)
	if p := strings.Trim(prefix, "/"); p != "" {
		k = p + "/" + k
	}
	return k
}

// Dead-letter object metadata (besides MetaTopic and MetaPartition).
const (
	MetaDLOffset    = "tickflow-offset"
	MetaDLTimestamp = "tickflow-timestamp" // source record timestamp, Unix ms
	MetaDLError     = "tickflow-error"
	MetaDLKey       = "tickflow-key-base64" // the record key, when small enough
	MetaDLHeaders   = "tickflow-headers"    // how many headers the source record had (not stored)
)

// dlqOverhead is what a one-record batch adds to its key, value and
// headers, with room to spare (the v2 batch header is 61 bytes, a record's
// varints a few dozen).
const dlqOverhead = 512

// defaultDLQLimit is the size limit assumed when the dead-letter topic's
// max.message.bytes cannot be read: kgo's own limit for one batch.
const defaultDLQLimit = 1_000_012

// dlqLimit is the largest record batch the dead-letter topic accepts: its
// max.message.bytes (read once, the first time a record is dead-lettered),
// at most kgo's batch limit. A topic that does not exist yet, or a
// DescribeConfigs that is refused, leaves kgo's limit (logged).
func (s *Sink) dlqLimit(ctx context.Context) int {
	s.dlqLimitMu.Lock()
	defer s.dlqLimitMu.Unlock()
	if s.dlqMax > 0 {
		return s.dlqMax
	}
	s.dlqMax = defaultDLQLimit
	topic := s.cfg.topic + ".dlq"
	ctx, cancel := context.WithTimeout(ctx, s.cfg.callTimeout)
	defer cancel()
	rcs, err := kadm.NewClient(s.client).DescribeTopicConfigs(ctx, topic)
	if err == nil {
		var rc kadm.ResourceConfig
		if rc, err = rcs.On(topic, nil); err == nil && rc.Err != nil {
			err = rc.Err
		}
		for _, c := range rc.Configs {
			if c.Key == "max.message.bytes" {
				if n, perr := strconv.Atoi(c.MaybeValue()); perr == nil && n > 0 {
					s.dlqMax = min(n, defaultDLQLimit)
				}
			}
		}
	}
	if err != nil {
		s.cfg.log.Warn("sink: max.message.bytes of the dead-letter topic unknown; assuming kgo's batch limit", "topic", topic,
			"limit", s.dlqMax, "err", err)
	}
	return s.dlqMax
}

func recordSize(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// deadLetter sends r to the dead-letter topic. A record the topic cannot
// take (its max.message.bytes, counted uncompressed, with the sink's
// headers) is stored whole in S3 first (DeadLetterKey, a conditional write:
// the same record always gets the same key, so a retry or another owner
// finds it there) and goes to the topic truncated, with headers naming its
// original size and the object. Were it produced whole, the broker would
// refuse it, the sink would exit, restart, read the same record and exit
// again. An S3 failure (after the retries) is returned like a failed
// produce: the range is not committed.
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
	limit := s.dlqLimit(ctx)
	if recordSize(dr)+dlqOverhead > limit {
		if err := s.deadLetterToS3(ctx, r, cause, dr, limit); err != nil {
			s.dlqErr.CompareAndSwap(nil, &err)
			return
		}
	}
	s.cfg.log.Warn("sink: poison record to DLQ", "partition", r.Partition, "offset", r.Offset, "err", cause)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			e := fmt.Errorf("sink: dead-letter %s[%d]@%d to %s: %w", r.Topic, r.Partition, r.Offset, dr.Topic, err)
			if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
				e = fmt.Errorf("%w (the sink took %s's limit to be %d bytes: let it read the topic's max.message.bytes (DescribeConfigs), or raise the limit)",
					e, dr.Topic, limit)
			}
			s.dlqErr.CompareAndSwap(nil, &e)
		}
	}
	if limit < defaultDLQLimit {
		// The topic takes less than kgo puts in one batch: two dead
		// letters that each fit could share a batch the broker refuses
		// whole. One at a time, each acknowledged before the next is
		// buffered, every batch holds one record.
		s.dlqOneMu.Lock()
		defer s.dlqOneMu.Unlock()
		done(nil, s.client.ProduceSync(ctx, dr).FirstErr())
		return
	}
	s.client.Produce(ctx, dr, done)
}

// deadLetterToS3 stores r's value (and its key, when it does not fit the
// metadata) under DeadLetterKey and truncates dr to fit limit.
func (s *Sink) deadLetterToS3(ctx context.Context, r *kgo.Record, cause error, dr *kgo.Record, limit int) error {
	key := DeadLetterKey(s.cfg.prefix, r.Topic, r.Partition, r.Offset)
	errText := cause.Error()
	if len(errText) > 256 {
		errText = errText[:256]
	}
	meta := map[string]string{
		MetaTopic: r.Topic, MetaPartition: strconv.Itoa(int(r.Partition)), MetaDLOffset: strconv.FormatInt(r.Offset, 10),
		MetaDLTimestamp: strconv.FormatInt(r.Timestamp.UnixMilli(), 10), MetaDLError: errText,
		MetaDLHeaders: strconv.Itoa(len(r.Headers)),
	}
	if tid := s.currentTopicID(); tid != "" {
		meta[MetaTopicID] = tid
	}
	if k := base64.StdEncoding.EncodeToString(r.Key); len(k) <= 1024 {
		meta[MetaDLKey] = k
	} else if err := s.putDeadLetter(ctx, key+".key", r.Key, meta); err != nil {
		return err
	}
	if err := s.putDeadLetter(ctx, key, r.Value, meta); err != nil {
		return err
	}
	obj := strings.TrimSuffix(s.store.String(), "/") + "/" + key
	s.cfg.log.Warn("sink: poison record too large for the dead-letter topic; stored whole in S3, a truncated copy goes to the topic",
		"partition", r.Partition, "offset", r.Offset, "bytes", len(r.Value), "limit", limit, "object", obj)
	// What is left for key and value once the sink's headers are in: the
	// source's own headers go only if they fit, then the key, then as much
	// of the value as fits.
	hdrs := dr.Headers[:5:5]
	hdrs = append(hdrs,
		kgo.RecordHeader{Key: HeaderTruncated, Value: []byte("true")},
		kgo.RecordHeader{Key: HeaderOriginalSize, Value: []byte(strconv.Itoa(len(r.Value)))},
		kgo.RecordHeader{Key: HeaderOriginalKey, Value: []byte(strconv.Itoa(len(r.Key)))},
		kgo.RecordHeader{Key: HeaderObject, Value: []byte(obj)})
	room := limit - dlqOverhead - recordSize(&kgo.Record{Headers: hdrs})
	if own := recordSize(&kgo.Record{Headers: r.Headers}); own <= room/2 {
		hdrs = append(hdrs, r.Headers...)
		room -= own
	}
	k := r.Key
	if len(k) > room/2 {
		k = nil // in the object's metadata or beside it
	}
	room -= len(k)
	v := r.Value
	if len(v) > room {
		v = v[:max(0, room)]
	}
	dr.Key, dr.Value, dr.Headers = k, v, hdrs
	return nil
}

func (s *Sink) putDeadLetter(ctx context.Context, key string, body []byte, meta map[string]string) error {
	err := s.retry(ctx, "store dead letter "+key+" in "+s.store.String(), func(ctx context.Context) error {
		return s.store.PutIfAbsent(ctx, key, body, meta)
	})
	if errors.Is(err, objstore.ErrPreconditionFailed) {
		return nil // the same record, stored by an earlier attempt or owner
	}
	if err != nil {
		return fmt.Errorf("sink: a dead letter too large for %s.dlq could not be stored in S3 (its range is not committed): %w", s.cfg.topic, err)
	}
	return nil
}
