package harness

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/tickflow/tickflow/broker"
)

// Option configures Start. Every option has a default that just works; the
// zero call harness.Start(t) gives 3 brokers, topic "stock-ticks" with 6
// partitions and the bucket "tickflow-lake".
type Option func(*config)

type config struct {
	brokers    int
	partitions int
	topic      string
	bucket     string
	dataDir    string
	logger     *slog.Logger
	leakCheck  bool
	leakWait   time.Duration
}

func defaultConfig() config {
	return config{
		brokers:    broker.DefaultBrokers,
		partitions: broker.DefaultPartitions,
		topic:      broker.DefaultTopic,
		bucket:     broker.DefaultBucket,
		leakCheck:  true,
		leakWait:   5 * time.Second,
	}
}

// Brokers sets the number of Kafka brokers, 1..16 (default 3). Broker ids
// are 0..n-1; the highest id is the controller and cannot be stopped.
func Brokers(n int) Option { return func(c *config) { c.brokers = n } }

// Partitions sets the partition count of the world's topic and of topics
// auto-created on first use (default 6).
func Partitions(n int) Option { return func(c *config) { c.partitions = n } }

// Topic sets the name of the topic created at start, which the Produce
// helpers write to and StartSink consumes (default "stock-ticks").
func Topic(name string) Option { return func(c *config) { c.topic = name } }

// Bucket sets the bucket created at start (default "tickflow-lake"). It must
// be a valid S3 bucket name.
func Bucket(name string) Option { return func(c *config) { c.bucket = name } }

// DataDir keeps Kafka and S3 state in dir instead of memory; use it for
// large volumes (memory stays flat) or to inspect the files after a test.
// Default: memory. One world at a time may use a directory.
func DataDir(dir string) Option { return func(c *config) { c.dataDir = dir } }

// Logger receives the world's own events and the fakes' messages (debug
// level). Default: discard, so tests stay quiet.
func Logger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// NoLeakCheck turns off the goroutine leak check Start registers for
// cleanup. Leave it on unless a test deliberately abandons a goroutine that
// it started from a world's goroutine (for example in a consumer callback).
func NoLeakCheck() Option { return func(c *config) { c.leakCheck = false } }

// validate names the harness option and the fix; checks the broker package
// shares (topic and bucket names) are left to it and reported by Start.
func (c *config) validate() error {
	if c.brokers < 1 || c.brokers > broker.MaxBrokers {
		return fmt.Errorf("harness.Brokers(%d): out of range, use 1..%d", c.brokers, broker.MaxBrokers)
	}
	if c.partitions < 1 {
		return fmt.Errorf("harness.Partitions(%d): a topic needs at least 1 partition", c.partitions)
	}
	return nil
}

func (c *config) brokerOptions() []broker.Option {
	opts := []broker.Option{
		broker.Brokers(c.brokers),
		broker.Partitions(c.partitions),
		broker.Topic(c.topic, c.partitions),
		broker.Bucket(c.bucket),
	}
	if c.dataDir != "" {
		opts = append(opts, broker.DataDir(c.dataDir))
	}
	if c.logger != nil {
		opts = append(opts, broker.Logger(c.logger))
	}
	return opts
}
