// Command consumer is a small consumer program of the kind a user brings to
// `tickflow bench --consumer`: it reads the coordinates tickflow puts in its
// environment, consumes the topic from the start in its group, writes each
// polled batch of a partition as one JSON Lines object under
// TICKFLOW_PREFIX, and commits after the PUT. It stops on SIGTERM.
//
// -nocommit never commits (the bench then counts its records in the lake).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/objstore"
)

func main() {
	noCommit := flag.Bool("nocommit", false, "never commit offsets")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, *noCommit); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, noCommit bool) error {
	env := func(k string) string { return os.Getenv(k) }
	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: env("AWS_ENDPOINT_URL_S3"), Bucket: env("TICKFLOW_BUCKET"),
		Region: env("AWS_REGION"), AccessKey: env("AWS_ACCESS_KEY_ID"), SecretKey: env("AWS_SECRET_ACCESS_KEY")})
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(env("KAFKA_BOOTSTRAP_SERVERS"), ",")...),
		kgo.ConsumerGroup(env("KAFKA_GROUP_ID")), kgo.ConsumeTopics(env("KAFKA_TOPIC")),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	fmt.Println("consumer: instance", env("TICKFLOW_INSTANCE"), "started")
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("fetch %s[%d]: %w", t, p, err) })
		if ferr != nil {
			return ferr
		}
		var perr error
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			if len(p.Records) == 0 || perr != nil {
				return
			}
			var body bytes.Buffer
			for _, r := range p.Records {
				body.Write(r.Value)
				body.WriteByte('\n')
			}
			key := fmt.Sprintf("%s%s/%d/%020d.jsonl", env("TICKFLOW_PREFIX"), p.Topic, p.Partition, p.Records[0].Offset)
			perr = st.Put(ctx, key, body.Bytes(), nil)
		})
		if perr != nil {
			return perr
		}
		if !noCommit {
			if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
}
