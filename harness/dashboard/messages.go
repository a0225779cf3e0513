package dashboard

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Bounds of one message browser request.
const (
	DefaultMessages = 50
	MaxMessages     = 500
	// MaxScan bounds how many records a key search reads per request; the
	// answer says where it stopped so the next page can continue there.
	MaxScan       = 200_000
	maxValueBytes = 4096
	browseTimeout = 10 * time.Second
)

// MessageQuery selects records for the message browser (GET /api/messages).
type MessageQuery struct {
	Topic string
	// Partition is the partition to read; nil reads every partition.
	Partition *int32
	// Offset is the first offset to read; nil with Time nil shows the last
	// Limit records (or, with Key, searches from the log start).
	Offset *int64
	// Time reads from the first record at or after it (Kafka's
	// ListOffsets by timestamp).
	Time *time.Time
	// Key keeps only records whose key is exactly Key ("" keeps all).
	Key string
	// Limit is the most records returned (default 50, at most 500).
	Limit int
}

// MessagePage is the browser's answer.
type MessagePage struct {
	Topic    string    `json:"topic"`
	Messages []Message `json:"messages"`
	// Scanned is how many records were read to find Messages.
	Scanned int64 `json:"scanned"`
	// Next is, per partition, the offset to continue from.
	Next map[int32]int64 `json:"next"`
	// More is true when the partitions hold records after Next.
	More bool   `json:"more"`
	Note string `json:"note,omitempty"`
}

// Message is one record.
type Message struct {
	Partition     int32     `json:"partition"`
	Offset        int64     `json:"offset"`
	Time          time.Time `json:"time"`
	Key           string    `json:"key"`
	Value         string    `json:"value"`
	ValueEncoding string    `json:"value_encoding"` // "text" or "base64" (not UTF-8)
	ValueBytes    int       `json:"value_bytes"`
	Truncated     bool      `json:"truncated"`
	Headers       []Header  `json:"headers"`
}

// Header is one record header.
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// errNoTopic marks an unknown topic (HTTP 404).
var errNoTopic = errors.New("no such topic")

// Messages reads records of the watched world for the message browser.
func (s *Server) Messages(ctx context.Context, q MessageQuery) (*MessagePage, error) {
	t := s.current()
	if t == nil {
		return nil, errors.New("no world is attached")
	}
	if q.Topic == "" {
		return nil, badAction("give a topic")
	}
	if q.Limit <= 0 {
		q.Limit = DefaultMessages
	}
	if q.Limit > MaxMessages {
		return nil, badAction("limit %d: at most %d", q.Limit, MaxMessages)
	}
	ctx, cancel := context.WithTimeout(ctx, browseTimeout)
	defer cancel()

	starts, err := t.adm.ListStartOffsets(ctx, q.Topic)
	if err != nil {
		return nil, fmt.Errorf("log start offsets of %s: %w", q.Topic, err)
	}
	ends, err := t.adm.ListEndOffsets(ctx, q.Topic)
	if err != nil {
		return nil, fmt.Errorf("log end offsets of %s: %w", q.Topic, err)
	}
	if err := ends.Error(); err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("%w %q", errNoTopic, q.Topic)
		}
		return nil, fmt.Errorf("log end offsets of %s: %w", q.Topic, err)
	}
	var byTime kadm.ListedOffsets
	if q.Time != nil {
		if byTime, err = t.adm.ListOffsetsAfterMilli(ctx, q.Time.UnixMilli(), q.Topic); err != nil {
			return nil, fmt.Errorf("offsets of %s at %s: %w", q.Topic, q.Time.Format(time.RFC3339), err)
		}
	}

	from := map[int32]int64{} // first offset to read
	stop := map[int32]int64{} // end offset at request time
	found := false
	ends.Each(func(e kadm.ListedOffset) {
		if q.Partition != nil && e.Partition != *q.Partition {
			return
		}
		found = true
		lo := int64(0)
		if so, ok := starts.Lookup(q.Topic, e.Partition); ok && so.Err == nil {
			lo = so.Offset
		}
		at := lo
		switch {
		case q.Offset != nil:
			at = *q.Offset
		case q.Time != nil:
			at = e.Offset
			if o, ok := byTime.Lookup(q.Topic, e.Partition); ok && o.Err == nil && o.Offset >= 0 {
				at = o.Offset
			}
		case q.Key == "":
			at = e.Offset - int64(q.Limit)
		}
		from[e.Partition] = min(max(at, lo), e.Offset)
		stop[e.Partition] = e.Offset
	})
	if !found {
		return nil, badAction("topic %s has no partition %d", q.Topic, *q.Partition)
	}

	page := &MessagePage{Topic: q.Topic, Messages: []Message{}, Next: map[int32]int64{}}
	consume := map[int32]kgo.Offset{}
	for p, o := range from {
		page.Next[p] = o
		if o < stop[p] {
			consume[p] = kgo.NewOffset().At(o)
		}
	}
	if len(consume) > 0 {
		if err := t.read(ctx, q, consume, stop, page); err != nil {
			return nil, err
		}
	}
	for p, n := range page.Next {
		if n < stop[p] {
			page.More = true
		}
	}
	sort.Slice(page.Messages, func(i, j int) bool {
		a, b := page.Messages[i], page.Messages[j]
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.Offset < b.Offset
	})
	if page.Scanned >= MaxScan {
		page.Note = fmt.Sprintf("stopped after scanning %d records; search again from the next offsets", page.Scanned)
	}
	return page, nil
}

// read consumes the partitions from their offsets up to stop.
func (t *target) read(ctx context.Context, q MessageQuery, consume map[int32]kgo.Offset, stop map[int32]int64, page *MessagePage) error {
	cl, err := kgo.NewClient(append(append(kafkaOpts(),
		kgo.SeedBrokers(t.w.KafkaAddrs()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{q.Topic: consume}),
		kgo.FetchMaxWait(200*time.Millisecond),
	), t.w.KafkaClientOptions()...)...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	left := len(consume)
	done := map[int32]bool{}
	for left > 0 && len(page.Messages) < q.Limit && page.Scanned < MaxScan {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("reading %s: %w after %d records", q.Topic, err, page.Scanned)
		}
		var ferr error
		fs.EachError(func(_ string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("reading %s/%d: %w", q.Topic, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			if done[r.Partition] || len(page.Messages) >= q.Limit || page.Scanned >= MaxScan {
				return
			}
			page.Scanned++
			page.Next[r.Partition] = r.Offset + 1
			if q.Key == "" || string(r.Key) == q.Key {
				page.Messages = append(page.Messages, message(r))
			}
			if r.Offset+1 >= stop[r.Partition] {
				done[r.Partition] = true
				left--
			}
		})
	}
	return nil
}

func message(r *kgo.Record) Message {
	m := Message{Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp, Key: printable(r.Key), ValueBytes: len(r.Value), Headers: []Header{}}
	v := r.Value
	if len(v) > maxValueBytes {
		v, m.Truncated = v[:maxValueBytes], true
	}
	if utf8.Valid(v) || m.Truncated && utf8.Valid(v[:max(0, len(v)-utf8.UTFMax)]) {
		m.Value, m.ValueEncoding = string(v), "text"
	} else {
		m.Value, m.ValueEncoding = base64.StdEncoding.EncodeToString(v), "base64"
	}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, Header{Key: h.Key, Value: printable(h.Value)})
	}
	return m
}

// printable shows a key or header as text, or as base64 when it is not
// UTF-8.
func printable(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return "base64:" + base64.StdEncoding.EncodeToString(b)
}
