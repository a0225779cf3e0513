// Command goconsumer is a Kafka → S3 consumer that neither loses nor
// duplicates records when it is killed, frozen, rebalanced or when S3 fails:
// the Go twin of examples/python/consumer.py, written as a user of tickflow
// would write theirs (franz-go and aws-sdk-go-v2, nothing from tickflow).
//
//   - Object keys depend only on the record:
//     {prefix}{topic}/{partition}/{offset:020d}.json holding the record's value
//     unchanged. Writing a record again (after a crash, a rebalance, a frozen
//     member waking up) rewrites the same key with the same bytes.
//   - Auto-commit is off. Each poll's records are PUT in parallel; their
//     offsets are committed only after every PUT succeeded, and only then is
//     the next poll made. A crash anywhere leaves the committed offsets at or
//     behind the lake.
//   - kgo.BlockRebalanceOnPoll: a rebalance waits until the polled batch is
//     written and committed, so a normal rebalance does not even re-read.
//   - S3 errors (500, 503, timeouts, refused connections) are retried with
//     backoff, forever. A failed commit (the group moved on) is logged: the
//     next owner re-reads from the last commit and rewrites the same keys.
//   - SIGTERM/SIGINT: finish the current batch, commit it, leave the group,
//     exit 0.
//   - A value that is not a JSON object (a poison record) is not a table row:
//     it goes to {prefix}_rejected/{topic}/{partition}/{offset:020d}, which
//     Athena and tickflow's verdict skip, and is logged on stderr.
//
// Environment: KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC, KAFKA_GROUP_ID,
// AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, TICKFLOW_BUCKET, TICKFLOW_PREFIX
// (optional), TICKFLOW_INSTANCE (optional, for logs), AWS_REGION or
// AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the SDK's
// default chain), KAFKA_SESSION_TIMEOUT_MS (optional). Tuning:
// CONSUMER_WORKERS (parallel PUTs, default 32), CONSUMER_MAX_POLL_RECORDS
// (default 1000).
//
//	go build -o bin/goconsumer ./examples/goconsumer
//	tickflow scenario run sink-kill-9 --consumer bin/goconsumer
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	log.SetPrefix("goconsumer[" + os.Getenv("TICKFLOW_INSTANCE") + "] ")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cfg, err := configFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	if err := run(ctx, cfg); err != nil {
		log.Fatal(err)
	}
}

// Config is what the consumer needs to know; configFromEnv reads it from the
// environment tickflow documents.
type Config struct {
	Brokers        []string
	Topic, Group   string
	Endpoint       string // S3 endpoint URL; empty: AWS
	Region         string
	Bucket, Prefix string
	SessionTimeout time.Duration // 0: the client's default
	Workers        int           // parallel PUTs
	MaxPollRecords int
}

func configFromEnv() (Config, error) {
	c := Config{
		Topic:    os.Getenv("KAFKA_TOPIC"),
		Group:    os.Getenv("KAFKA_GROUP_ID"),
		Endpoint: firstNonEmpty(os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL")),
		Region:   firstNonEmpty(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1"),
		Bucket:   os.Getenv("TICKFLOW_BUCKET"),
		Prefix:   os.Getenv("TICKFLOW_PREFIX"),
	}
	for _, b := range strings.Split(os.Getenv("KAFKA_BOOTSTRAP_SERVERS"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.Brokers = append(c.Brokers, b)
		}
	}
	if len(c.Brokers) == 0 || c.Topic == "" || c.Group == "" || c.Bucket == "" {
		return c, fmt.Errorf("KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC, KAFKA_GROUP_ID and TICKFLOW_BUCKET must be set")
	}
	var err error
	if c.Workers, err = intEnv("CONSUMER_WORKERS", 32); err != nil {
		return c, err
	}
	if c.MaxPollRecords, err = intEnv("CONSUMER_MAX_POLL_RECORDS", 1000); err != nil {
		return c, err
	}
	ms, err := intEnv("KAFKA_SESSION_TIMEOUT_MS", 0)
	if err != nil {
		return c, err
	}
	c.SessionTimeout = time.Duration(ms) * time.Millisecond
	return c, nil
}

func intEnv(name string, def int) (int, error) {
	s := os.Getenv(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q: not a non-negative integer", name, s)
	}
	return n, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// ObjectKey is the key of a record's object: a pure function of the record.
// row is false for a value that is not a JSON object.
func ObjectKey(prefix, topic string, partition int32, offset int64, row bool) string {
	if !row {
		return fmt.Sprintf("%s_rejected/%s/%d/%020d", prefix, topic, partition, offset)
	}
	return fmt.Sprintf("%s%s/%d/%020d.json", prefix, topic, partition, offset)
}

// isJSONObject reports whether v is one JSON object (a row of the table).
func isJSONObject(v []byte) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && v[0] == '{' && json.Valid(v)
}

// run consumes until ctx is done, then finishes the batch in hand, commits
// it and leaves the group.
func run(ctx context.Context, cfg Config) error {
	s3c, err := newS3(context.Background(), cfg)
	if err != nil {
		return err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.ClientID("tickflow-goconsumer-" + os.Getenv("TICKFLOW_INSTANCE")),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			if len(m) > 0 {
				log.Printf("assigned %v", m)
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			// Nothing to commit here: with BlockRebalanceOnPoll the batch
			// in hand was committed before the rebalance could start.
			if len(m) > 0 {
				log.Printf("revoked %v", m)
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			log.Printf("lost %v (session expired or fenced; the next owner re-reads them)", m)
		}),
	}
	if cfg.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(cfg.SessionTimeout),
			kgo.HeartbeatInterval(min(3*time.Second, max(100*time.Millisecond, cfg.SessionTimeout/3))))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close() // leaves the group
	log.Printf("consuming %s as group %s into s3://%s/%s via %s", cfg.Topic, cfg.Group, cfg.Bucket, cfg.Prefix, cfg.Endpoint)

	var written int
	for ctx.Err() == nil {
		fetches := cl.PollRecords(ctx, cfg.MaxPollRecords)
		fetches.EachError(func(t string, p int32, err error) {
			if ctx.Err() == nil {
				log.Printf("fetch %s/%d: %v", t, p, err)
			}
		})
		recs := fetches.Records()
		if len(recs) > 0 {
			// Not ctx: a SIGTERM must not abort the batch in hand.
			putAll(s3c, cfg, recs)
			written += len(recs)
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := cl.CommitRecords(cctx, recs...); err != nil {
				log.Printf("commit failed, the records will be re-read and rewritten to the same keys: %v", err)
			}
			cancel()
		}
		cl.AllowRebalance()
	}
	log.Printf("stopping after writing %d records", written)
	return nil
}

// putAll writes every record to S3, cfg.Workers at a time, and returns once
// all of them are stored.
func putAll(s3c *s3.Client, cfg Config, recs []*kgo.Record) {
	sem := make(chan struct{}, max(cfg.Workers, 1))
	var wg sync.WaitGroup
	for _, r := range recs {
		row := isJSONObject(r.Value)
		key := ObjectKey(cfg.Prefix, r.Topic, r.Partition, r.Offset, row)
		if !row {
			log.Printf("record %s/%d@%d is not a JSON object, kept under %s", r.Topic, r.Partition, r.Offset, key)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			putWithRetry(s3c, cfg.Bucket, key, r.Value)
		}()
	}
	wg.Wait()
}

// putWithRetry PUTs one object, retrying every error with capped
// exponential backoff until it succeeds. A PUT that timed out here and is
// delivered late is harmless: same key, same bytes.
func putWithRetry(s3c *s3.Client, bucket, key string, body []byte) {
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := s3c.PutObject(ctx, &s3.PutObjectInput{
			Bucket:      aws.String(bucket),
			Key:         aws.String(key),
			Body:        bytes.NewReader(body), // seekable: the SDK can sign and retry it
			ContentType: aws.String("application/json"),
		})
		cancel()
		if err == nil {
			if attempt > 1 {
				log.Printf("PUT %s succeeded after %d attempts", key, attempt)
			}
			return
		}
		if attempt == 1 || attempt%10 == 0 {
			log.Printf("PUT %s failed (attempt %d), retrying in %v: %v", key, attempt, delay, err)
		}
		time.Sleep(delay)
		delay = min(2*delay, 5*time.Second)
	}
}

// newS3 builds the S3 client: credentials from the SDK's default chain
// (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), path-style addressing against
// cfg.Endpoint. The HTTP client is the SDK's own buildable client: a plain
// *http.Client breaks when AWS_CA_BUNDLE is set.
func newS3(ctx context.Context, cfg Config) (*s3.Client, error) {
	hc := awshttp.NewBuildableClient().WithTimeout(30 * time.Second)
	awsCfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(cfg.Region),
		config.WithHTTPClient(hc),
	)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			o.UsePathStyle = true
		}
		// gofakes3 and other S3-compatible stores often return no checksum.
		o.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}
