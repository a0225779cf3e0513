package sink

import (
	"log/slog"
	"runtime"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/tick"
)

// Format is a lake file format.
type Format string

// The lake file formats. One lake holds one format (LAKE rule L04).
const (
	Parquet Format = "parquet" // Parquet, snappy-compressed (default)
	JSON    Format = "json"    // JSON Lines; with Gzip() the objects end .json.gz
)

// Option configures New.
type Option func(*config)

type config struct {
	topic, group, prefix string
	format               Format
	gzip                 bool
	flushRecords         int
	flushBytes           int
	flushInterval        time.Duration
	untilIdle            time.Duration
	retryAttempts        int
	retryBase, retryMax  time.Duration
	callTimeout          time.Duration
	pingTimeout          time.Duration
	pollRecords          int
	kgoOpts              []kgo.Opt
	log                  *slog.Logger
	hook                 func(HookEvent) error
	unsafeCommitFirst    bool
	unsafePlainPut       bool
	unsafeNoCond         bool
	proveFence           bool
	rebalance            time.Duration // 0: derived from the retry budget
	pipeline             int           // batches of sealed segments queued for the flusher
	decoders             int           // partitions decoded in parallel per poll
	topicIDBudget        time.Duration // how long a topic ID lookup is retried, and UNKNOWN_TOPIC_ID tolerated
}

func defaults() config {
	return config{
		topic: tick.DefaultTopic, group: "tickflow-sink", format: Parquet,
		flushRecords: 100_000, flushBytes: 64 << 20, flushInterval: 10 * time.Second,
		retryAttempts: 8, retryBase: 100 * time.Millisecond, retryMax: 5 * time.Second,
		callTimeout: 30 * time.Second, pingTimeout: 10 * time.Second, pollRecords: 10_000,
		pipeline: 2, decoders: runtime.GOMAXPROCS(0), topicIDBudget: 30 * time.Second,
		log: slog.New(slog.DiscardHandler),
	}
}

// retryBudget is the longest one S3 call can take with all its retries:
// attempts × CallTimeout plus the backoffs between them.
func (c config) retryBudget() time.Duration {
	d := time.Duration(c.retryAttempts) * c.callTimeout
	for a := 1; a < c.retryAttempts; a++ {
		d += min(c.retryBase<<min(a-1, 20), c.retryMax)
	}
	return d
}

// DefaultRebalanceTimeout is the group's rebalance timeout unless
// RebalanceTimeout says otherwise. The coordinator waits this long for a
// member that joined a rebalance and never synced (killed mid join/sync),
// so it is what one crash in the middle of a rebalance costs the whole
// group, on top of the session timeout: short, like the time a member
// needs to rejoin, not like an S3 retry budget. Revocation work is bounded
// to fit it (revokeBudget): the conditional-write fence makes it safe to
// hand a partition over while its upload is still on the way.
const DefaultRebalanceTimeout = 15 * time.Second

// rebalanceTimeout is how long the group waits for members to rejoin.
func (c config) rebalanceTimeout() time.Duration {
	if c.rebalance > 0 {
		return c.rebalance
	}
	return DefaultRebalanceTimeout
}

// revokeBudget is how long a revocation waits for the uploads and commits
// of the partitions it gives up before it lets them go anyway: two thirds
// of the rebalance timeout, leaving the rest for one commit attempt that
// may be on its way (commitAttemptTimeout) and the rejoin itself.
func (c config) revokeBudget() time.Duration {
	return c.rebalanceTimeout() * 2 / 3
}

// commitAttemptTimeout bounds one OffsetCommit attempt (commits are
// retried within commitBudget): short enough that a revocation waiting for
// an attempt on its way still fits the rebalance timeout.
func (c config) commitAttemptTimeout() time.Duration {
	return max(100*time.Millisecond, min(c.callTimeout, c.rebalanceTimeout()/4))
}

// heartbeat is the heartbeat interval unless HeartbeatInterval (or
// KafkaOptions) says otherwise: kgo's 3s default, at most a fifth of the
// rebalance timeout, so a member hears of a rebalance early enough to
// rejoin in time even when the rebalance timeout is short.
func (c config) heartbeat() time.Duration {
	return min(3*time.Second, c.rebalanceTimeout()/5)
}

// commitBudget is how long a commit is retried while Kafka answers with a
// retriable error (a rebalance in progress, a coordinator moving).
func (c config) commitBudget() time.Duration {
	return max(c.callTimeout, c.rebalanceTimeout())
}

// Topic is the topic to consume. Default tick.DefaultTopic. Poison records go
// to Topic+".dlq".
func Topic(t string) Option { return func(c *config) { c.topic = t } }

// Group is the consumer group. Default "tickflow-sink".
func Group(g string) Option { return func(c *config) { c.group = g } }

// Prefix is the folder that holds stock_ticks/ in the bucket. Default "" (the
// bucket root).
func Prefix(p string) Option { return func(c *config) { c.prefix = p } }

// WithFormat picks the file format. Default Parquet.
func WithFormat(f Format) Option { return func(c *config) { c.format = f } }

// Gzip compresses JSON Lines objects (.json.gz). Ignored for Parquet, which
// is always snappy-compressed.
func Gzip() Option { return func(c *config) { c.gzip = true } }

// FlushRecords closes a partition's object after n Kafka records (rows plus
// dead-lettered records). Default 100,000.
func FlushRecords(n int) Option { return func(c *config) { c.flushRecords = n } }

// FlushBytes closes a partition's object once its records' values add up to
// b bytes. Default 64 MiB.
func FlushBytes(b int) Option { return func(c *config) { c.flushBytes = b } }

// FlushInterval closes a partition's object d after its first record arrived,
// so a quiet partition still lands in S3. Default 10s.
func FlushInterval(d time.Duration) Option { return func(c *config) { c.flushInterval = d } }

// UntilIdle makes Run return (after a clean final flush and commit) once no
// record has arrived for d, or once the member, having owned partitions,
// has owned none for d (the group's other members hold them; logged as a
// warning). Default: run until ctx is cancelled.
func UntilIdle(d time.Duration) Option { return func(c *config) { c.untilIdle = d } }

// Retry bounds S3 retries: up to attempts tries per object, exponential
// backoff from base capped at max, with full jitter. Default 8, 100ms, 5s.
func Retry(attempts int, base, max time.Duration) Option {
	return func(c *config) { c.retryAttempts, c.retryBase, c.retryMax = attempts, base, max }
}

// CallTimeout bounds each S3 call (one attempt). Default 30s.
func CallTimeout(d time.Duration) Option { return func(c *config) { c.callTimeout = d } }

// KafkaOptions adds franz-go client options (TLS, SASL, session timeouts, or
// short metadata ages in tests), applied after tickflow's defaults.
func KafkaOptions(opts ...kgo.Opt) Option {
	return func(c *config) { c.kgoOpts = append(c.kgoOpts, opts...) }
}

// SessionTimeout is how long the group coordinator waits without a
// heartbeat before it evicts this member and gives its partitions to the
// others (kgo.SessionTimeout; default 45s). The brokers bound it by
// group.min/max.session.timeout.ms. A short one makes a crashed or frozen
// sink's partitions move on quickly. Exactly-once does not depend on it:
// a member evicted while its upload is still on the way collides with the
// next owner on one key (package doc, point 5).
func SessionTimeout(d time.Duration) Option {
	return func(c *config) { c.kgoOpts = append(c.kgoOpts, kgo.SessionTimeout(d)) }
}

// HeartbeatInterval is how often the member heartbeats to the group
// coordinator (kgo.HeartbeatInterval; default 3s, at most a fifth of the
// rebalance timeout); keep it well below the session timeout, and short
// enough that the member hears of a rebalance and rejoins within the
// rebalance timeout (New warns otherwise).
func HeartbeatInterval(d time.Duration) Option {
	return func(c *config) { c.kgoOpts = append(c.kgoOpts, kgo.HeartbeatInterval(d)) }
}

// RebalanceTimeout is how long the group waits for members to rejoin during
// a rebalance (kgo.RebalanceTimeout). Default DefaultRebalanceTimeout
// (15s). A revoked member waits at most two thirds of it for its uploads
// and commits, then lets the partitions go with uploads still on the way:
// the next owner's first key is the committed offset, so the conditional
// write decides between the two (package doc, point 4).
func RebalanceTimeout(d time.Duration) Option { return func(c *config) { c.rebalance = d } }

// Logger sets a structured logger. Default: discard (quiet).
func Logger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// HookPoint names a place in the write path where a test can stop the sink.
type HookPoint int

// Hook points, in the order they happen for one flush.
const (
	BeforeUpload HookPoint = iota + 1 // an object is about to be uploaded
	AfterUpload                       // an object is in S3, its offset not yet committed
	AfterCommit                       // a partition's offset was committed
)

func (p HookPoint) String() string {
	return [...]string{"", "before-upload", "after-upload", "after-commit"}[p]
}

// HookEvent says where the sink is.
type HookEvent struct {
	Point      HookPoint
	Partition  int32
	Key        string // object key (empty for AfterCommit)
	Start, End int64  // offsets covered [Start, End); for AfterCommit End is the committed offset
}

// Hook is for tests only: fn is called at every HookPoint. If it returns an
// error the sink behaves as if its process died right there: nothing more is
// uploaded or committed, no clean shutdown happens, and Run returns the error.
func Hook(fn func(HookEvent) error) Option { return func(c *config) { c.hook = fn } }

// UnsafeCommitBeforeUpload is for tests only: it commits offsets BEFORE the
// objects are uploaded, which breaks exactly-once (a crash after the commit
// loses records). Scenario suites use it to prove their invariants can fail.
func UnsafeCommitBeforeUpload() Option { return func(c *config) { c.unsafeCommitFirst = true } }

// UnsafeUnconditionalPut is for tests only: it writes objects with a plain
// PUT instead of If-None-Match: *, so a late PUT of a member that lost its
// partition overwrites the next owner's object. Scenario suites use it to
// prove the two-owner invariants can fail.
func UnsafeUnconditionalPut() Option { return func(c *config) { c.unsafePlainPut = true } }

// UnsafeNoConditionalWrites is for stores that do not honour
// If-None-Match: * (New refuses them with ErrNoConditionalWrites): it skips
// that check and writes objects with plain PUTs, logging a warning at every
// start. A late PUT of a member that lost its partition then overwrites or
// duplicates a range: exactly-once is not guaranteed.
func UnsafeNoConditionalWrites() Option {
	return func(c *config) { c.unsafeNoCond, c.unsafePlainPut = true, true }
}

// ProveConditionalWrites makes New write a probe object (FenceProbePrefix,
// under the table folder) twice with If-None-Match: * and refuse to run
// with ErrNoConditionalWrites unless the store refuses the second write;
// the probe is deleted afterwards. `tickflow sink` always sets it (unless
// --unsafe-no-conditional-writes). It costs two PUTs and a DELETE, which
// is why a test that counts a store's PUTs may leave it out.
func ProveConditionalWrites() Option { return func(c *config) { c.proveFence = true } }
