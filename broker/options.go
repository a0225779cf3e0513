package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Fixed local settings of the embedded world. The fake S3 checks AWS
// Signature V4 against AccessKey/SecretKey and DefaultRegion (unless
// S3Auth(false)); these are the ones `serve` prints.
const (
	DefaultRegion = "us-east-1"
	AccessKey     = "tickflow"
	SecretKey     = "tickflow-secret"
	DefaultBucket = "tickflow-lake"
	// DefaultTopic is the topic created at start when no Topic option is given.
	DefaultTopic = "stock-ticks"
	// DefaultPartitions is the partition count of DefaultTopic.
	DefaultPartitions = 6
	// DefaultBrokers is the number of Kafka brokers.
	DefaultBrokers = 3
	// MaxBrokers bounds Brokers: more is never useful on one machine.
	MaxBrokers = 16
)

// Option configures Start.
type Option func(*config)

type topicSpec struct {
	name       string
	partitions int
}

type config struct {
	brokers    int
	topics     []topicSpec
	partitions int
	kafkaAddr  string
	s3Addr     string
	bucket     string
	dataDir    string
	autoCreate bool
	logger     *slog.Logger
	minSession time.Duration
	s3Auth     bool
	tls        bool
	tlsDir     string
	sasl       *saslUser
}

func defaultConfig() config {
	return config{
		brokers:    DefaultBrokers,
		partitions: DefaultPartitions,
		kafkaAddr:  "127.0.0.1:0",
		s3Addr:     "127.0.0.1:0",
		bucket:     DefaultBucket,
		autoCreate: true,
		minSession: 6 * time.Second,
		s3Auth:     true,
	}
}

// GroupMinSessionTimeout sets the brokers' group.min.session.timeout.ms
// (default 6s, as in Apache Kafka). Consumers asking for a shorter session
// timeout are refused with INVALID_SESSION_TIMEOUT; lower it in tests that
// want a crashed consumer's partitions to move quickly.
func GroupMinSessionTimeout(d time.Duration) Option { return func(c *config) { c.minSession = d } }

// S3Auth turns the fake S3's signature checks on (the default) or off. On,
// every request must carry an AWS Signature V4 (header or presigned URL) made
// with AccessKey/SecretKey for DefaultRegion, and is refused as AWS refuses
// it otherwise: InvalidAccessKeyId, SignatureDoesNotMatch,
// RequestTimeTooSkewed, AuthorizationHeaderMalformed (wrong region) or
// AccessDenied (unsigned). Off, any request is served.
func S3Auth(on bool) Option { return func(c *config) { c.s3Auth = on } }

// Brokers sets the number of Kafka brokers (1..16, default 3). Broker ids are
// 0..n-1.
func Brokers(n int) Option { return func(c *config) { c.brokers = n } }

// Topic adds a topic created at start. It may be given several times. When
// any Topic is given, DefaultTopic is not created unless it is one of them.
func Topic(name string, partitions int) Option {
	return func(c *config) { c.topics = append(c.topics, topicSpec{name, partitions}) }
}

// Partitions sets the partition count of DefaultTopic (default 6) and of
// topics auto-created on first use (Kafka's num.partitions).
func Partitions(n int) Option { return func(c *config) { c.partitions = n } }

// KafkaAddr sets the address of the first broker, e.g. "127.0.0.1:9092"; the
// others listen on the following ports (9093, 9094, ...). Port 0 (the
// default, "127.0.0.1:0") gives every broker a random free port. The host
// must be a concrete address (it is what metadata advertises), not 0.0.0.0.
func KafkaAddr(addr string) Option { return func(c *config) { c.kafkaAddr = addr } }

// S3Addr sets the listen address of the fake S3 (default "127.0.0.1:0").
func S3Addr(addr string) Option { return func(c *config) { c.s3Addr = addr } }

// Bucket sets the bucket created at start (default DefaultBucket).
func Bucket(name string) Option { return func(c *config) { c.bucket = name } }

// DataDir persists Kafka (topics, records, groups, committed offsets; under
// dir/kafka) and S3 objects (a bolt file under dir/s3) across restarts. The
// directory is created if needed and must be writable; one World at a time
// may use it. Without DataDir everything lives in memory.
func DataDir(dir string) Option { return func(c *config) { c.dataDir = dir } }

// AutoCreateTopics makes Metadata requests for an unknown topic create it,
// like a stock Kafka broker (default on). Unlike plain kfake this also
// applies to Metadata v0–v3 requests, which cannot carry the
// AllowAutoTopicCreation flag (kafka-python 2.0.2 sends v1).
func AutoCreateTopics(on bool) Option { return func(c *config) { c.autoCreate = on } }

// Logger sets the logger for the world's own events and kfake/gofakes3
// messages (at debug level). Default: discard.
func Logger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// validate checks every option and returns an error naming the option and
// the fix.
func (c *config) validate() error {
	if err := c.validateSecurity(); err != nil {
		return err
	}
	if c.brokers < 1 || c.brokers > MaxBrokers {
		return configError("Brokers", "--brokers", c.brokers, "out of range: use 1..%d", MaxBrokers)
	}
	if c.minSession <= 0 {
		return fmt.Errorf("broker: GroupMinSessionTimeout(%v) must be positive, e.g. 100ms in tests", c.minSession)
	}
	if c.partitions < 1 {
		return configError("Partitions", "--partitions", c.partitions, "must be at least 1")
	}
	seen := map[string]bool{}
	for _, t := range c.topics {
		if err := validTopic(t.name); err != nil {
			return configError("Topic", "--topic", t.name, "%w", err)
		}
		if t.partitions < 1 {
			return configError("Topic", "--partitions", t.partitions, "partitions of topic %q must be at least 1", t.name)
		}
		if seen[t.name] {
			return fmt.Errorf("broker: Topic(%q) given twice: give each topic once", t.name)
		}
		seen[t.name] = true
	}
	if _, port, err := splitAddr(c.kafkaAddr, 9092); err != nil {
		return configError("KafkaAddr", "--kafka-addr", c.kafkaAddr, "%w", err)
	} else if port != 0 && port+c.brokers-1 > 65535 {
		return configError("KafkaAddr", "--kafka-addr", c.kafkaAddr, "%d brokers need ports %d..%d, beyond 65535: pick a lower port", c.brokers, port, port+c.brokers-1)
	}
	if _, _, err := splitAddr(c.s3Addr, 9000); err != nil {
		return configError("S3Addr", "--s3-addr", c.s3Addr, "%w", err)
	}
	if err := validBucket(c.bucket); err != nil {
		return configError("Bucket", "--bucket", c.bucket, "%w", err)
	}
	return nil
}

// topicList is the topics to create at start.
func (c *config) topicList() []topicSpec {
	if len(c.topics) == 0 {
		return []topicSpec{{DefaultTopic, c.partitions}}
	}
	return c.topics
}

// splitAddr parses "host:port". An empty host means 127.0.0.1; "localhost"
// is resolved to 127.0.0.1. Unspecified hosts (0.0.0.0, ::) are refused
// because kfake advertises the bound address in metadata.
func splitAddr(addr string, examplePort int) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("not host:port (%v): use e.g. 127.0.0.1:%d", unwrapAddrErr(err), examplePort)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number in 0..65535: use e.g. 127.0.0.1:%d (0 = random)", p, examplePort)
	}
	switch host {
	case "", "localhost":
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return "", 0, fmt.Errorf("host %q is not an IP address: use 127.0.0.1 or another local IP", host)
	}
	if ip.IsUnspecified() {
		return "", 0, fmt.Errorf("host %q is unspecified, but brokers advertise the address they bind: use 127.0.0.1 or a concrete local IP", host)
	}
	return host, port, nil
}

// unwrapAddrErr drops *net.AddrError's repetition of the address.
func unwrapAddrErr(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

// ConfigError is a bad option (or the environment refusing it, such as a
// taken port): the option, the tickflow serve flag that sets it, the value
// and what is wrong with it and how to fix it.
type ConfigError struct {
	Option string // e.g. "KafkaAddr"
	Flag   string // e.g. "--kafka-addr"
	Value  any
	Err    error // the problem and the fix
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("broker: %s(%#v) (%s): %v", e.Option, e.Value, e.Flag, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

func configError(option, flag string, value any, format string, args ...any) error {
	return &ConfigError{Option: option, Flag: flag, Value: value, Err: fmt.Errorf(format, args...)}
}

// validTopic applies Kafka's topic name rules.
func validTopic(name string) error {
	if name == "" {
		return fmt.Errorf("topic name is empty")
	}
	if name == "." || name == ".." {
		return fmt.Errorf("topic name cannot be %q", name)
	}
	if len(name) > 249 {
		return fmt.Errorf("topic name is %d characters long: Kafka allows at most 249", len(name))
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic name has %q: Kafka allows only ASCII letters, digits, '.', '_' and '-'", r)
		}
	}
	return nil
}

// validBucket applies the S3 bucket naming rules for new buckets.
func validBucket(name string) error {
	if len(name) < 3 || len(name) > 63 {
		return fmt.Errorf("bucket name must be 3..63 characters long, got %d", len(name))
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return fmt.Errorf("bucket name has %q: use only lowercase letters, digits, '.' and '-'", r)
		}
	}
	first, last := name[0], name[len(name)-1]
	if !isLowerAlnum(first) || !isLowerAlnum(last) {
		return fmt.Errorf("bucket name must begin and end with a lowercase letter or digit")
	}
	if strings.Contains(name, "..") {
		return fmt.Errorf("bucket name must not contain \"..\"")
	}
	if net.ParseIP(name) != nil {
		return fmt.Errorf("bucket name must not look like an IP address")
	}
	return nil
}

func isLowerAlnum(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }
