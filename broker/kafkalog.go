package broker

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxLoggedFrame bounds the bytes a logging connection buffers to decode a
// request's topics; larger requests are logged without them.
const maxLoggedFrame = 16 << 20

// kafkaLogConn logs, at debug level, one line per Kafka request read from a
// client connection: the API, its version, the client id, the broker and
// the topics it names. It only observes the bytes kfake reads; a stream
// that does not parse as Kafka frames (TLS, garbage) stops the logging, not
// the connection.
type kafkaLogConn struct {
	net.Conn
	rl     *requestLog
	broker string // the listener's address

	buf     []byte // bytes of the current frame, header included
	need    int    // frame size from its length prefix; 0: prefix not read yet
	skip    int    // bytes still to pass of a frame too large to buffer
	stopped bool
}

func (c *kafkaLogConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.stopped {
		c.observe(p[:n])
	}
	return n, err
}

func (c *kafkaLogConn) observe(b []byte) {
	for len(b) > 0 && !c.stopped {
		if c.skip > 0 {
			k := min(c.skip, len(b))
			c.skip -= k
			b = b[k:]
			continue
		}
		if c.need == 0 {
			k := min(4-len(c.buf), len(b))
			c.buf = append(c.buf, b[:k]...)
			b = b[k:]
			if len(c.buf) < 4 {
				return
			}
			size := int(binary.BigEndian.Uint32(c.buf))
			c.buf = c.buf[:0]
			if size < 8 || size > 1<<30 {
				c.stopped = true // not a Kafka request stream
				return
			}
			c.need = size
		}
		want := min(c.need, maxLoggedFrame)
		k := min(want-len(c.buf), len(b))
		c.buf = append(c.buf, b[:k]...)
		b = b[k:]
		if len(c.buf) < want {
			return
		}
		c.logFrame(c.buf, want == c.need)
		c.skip = c.need - want
		c.buf, c.need = c.buf[:0], 0
	}
}

func (c *kafkaLogConn) logFrame(body []byte, whole bool) {
	r := kbin.Reader{Src: body}
	key, version := r.Int16(), r.Int16()
	r.Int32() // correlation id
	clientID := r.NullableString()
	req := kmsg.RequestForKey(key)
	if r.Complete() != nil || req == nil {
		c.stopped = true
		return
	}
	attrs := []any{"api", kmsg.NameForKey(key), "version", version, "client", "", "broker", c.broker, "from", c.RemoteAddr().String()}
	if clientID != nil {
		attrs[5] = *clientID
	}
	if whole {
		req.SetVersion(version)
		if req.IsFlexible() {
			kmsg.SkipTags(&r)
		}
		if req.ReadFrom(r.Src) == nil {
			if topics := requestTopics(req, c.rl.topicName); len(topics) > 0 {
				attrs = append(attrs, "topics", strings.Join(topics, ","))
			}
			if g := requestGroup(req); g != "" {
				attrs = append(attrs, "group", g)
			}
		}
	}
	c.rl.log.Debug("kafka request", attrs...)
}

// requestLog is the state the logging connections of one world share.
type requestLog struct {
	log *slog.Logger
	// lookup lists the cluster's topic ids and names; set once the world's
	// admin client runs. It goes through the network like any client (never
	// through kfake's admin channel, which blocks forever once the cluster
	// has stopped) and is bounded by a timeout.
	lookup atomic.Pointer[func() map[[16]byte]string]

	mu    sync.Mutex
	names map[[16]byte]string // topic id → name
}

// topicName resolves a topic id (Produce v13+, Fetch v13+ carry ids, not
// names); an unknown id is shown in hex.
func (rl *requestLog) topicName(id [16]byte) string {
	rl.mu.Lock()
	name, ok := rl.names[id]
	rl.mu.Unlock()
	if ok {
		return name
	}
	if lookup := rl.lookup.Load(); lookup != nil {
		if all := (*lookup)(); all != nil {
			rl.mu.Lock()
			rl.names = all
			name, ok = all[id]
			rl.mu.Unlock()
			if ok {
				return name
			}
		}
	}
	return fmt.Sprintf("id:%x", id)
}

// requestTopics returns the topic names a request carries (sorted, each
// once) for the requests clients send most.
func requestTopics(req kmsg.Request, byID func([16]byte) string) []string {
	var ts []string
	name := func(topic string, id [16]byte) string {
		if topic == "" && id != [16]byte{} {
			return byID(id)
		}
		return topic
	}
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		for _, t := range r.Topics {
			ts = append(ts, name(t.Topic, t.TopicID))
		}
	case *kmsg.FetchRequest:
		for _, t := range r.Topics {
			ts = append(ts, name(t.Topic, t.TopicID))
		}
	case *kmsg.ListOffsetsRequest:
		for _, t := range r.Topics {
			ts = append(ts, t.Topic)
		}
	case *kmsg.MetadataRequest:
		for _, t := range r.Topics {
			if t.Topic != nil {
				ts = append(ts, *t.Topic)
			}
		}
	case *kmsg.OffsetCommitRequest:
		for _, t := range r.Topics {
			ts = append(ts, t.Topic)
		}
	case *kmsg.OffsetFetchRequest:
		for _, t := range r.Topics {
			ts = append(ts, t.Topic)
		}
	case *kmsg.CreateTopicsRequest:
		for _, t := range r.Topics {
			ts = append(ts, t.Topic)
		}
	case *kmsg.DeleteTopicsRequest:
		for _, t := range r.Topics {
			if t.Topic != nil {
				ts = append(ts, *t.Topic)
			}
		}
	case *kmsg.OffsetForLeaderEpochRequest:
		for _, t := range r.Topics {
			ts = append(ts, t.Topic)
		}
	}
	ts = slices.DeleteFunc(ts, func(s string) bool { return s == "" })
	slices.Sort(ts)
	return slices.Compact(ts)
}

// requestGroup returns the consumer group a group request names.
func requestGroup(req kmsg.Request) string {
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		return r.Group
	case *kmsg.SyncGroupRequest:
		return r.Group
	case *kmsg.HeartbeatRequest:
		return r.Group
	case *kmsg.LeaveGroupRequest:
		return r.Group
	case *kmsg.OffsetCommitRequest:
		return r.Group
	case *kmsg.OffsetFetchRequest:
		return r.Group
	case *kmsg.FindCoordinatorRequest:
		return r.CoordinatorKey
	}
	return ""
}

// logsKafka reports whether request logging is on (debug level).
func logsKafka(l *slog.Logger) bool {
	return l != nil && l.Enabled(context.Background(), slog.LevelDebug)
}
