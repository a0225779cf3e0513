// Command consumer is the scenarios' own test consumer, a stand-in for a
// user's program: it reads its coordinates from the environment the
// scenarios give every --consumer instance. Two modes:
//
//	-mode seed   the seed project's consumer: auto-commit, one object per
//	             record named by a per-process counter (loses records when
//	             killed after a commit and restarted)
//	-mode exact  commit only after every PUT of a poll landed, one object
//	             per record named by partition and offset (idempotent)
//
// -format psv writes each record as one header-less line of fields
// separated by | (symbol|close|volume), the way a Hive text table with
// FIELDS TERMINATED BY '|' reads it, instead of the record's JSON.
//
// It is built by the tests (go build ./scenarios/testdata/consumer).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/harness/objstore"
)

func main() {
	mode := flag.String("mode", "exact", "seed or exact")
	format := flag.String("format", "json", "json or psv")
	flag.Parse()
	if err := run(*mode, *format); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
}

func run(mode, format string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	env := os.Getenv
	session, _ := strconv.Atoi(env("KAFKA_SESSION_TIMEOUT_MS"))
	opts := []kgo.Opt{
		kgo.SeedBrokers(strings.Split(env("KAFKA_BOOTSTRAP_SERVERS"), ",")...),
		kgo.ConsumerGroup(env("KAFKA_GROUP_ID")), kgo.ConsumeTopics(env("KAFKA_TOPIC")),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.SessionTimeout(time.Duration(max(session, 6000)) * time.Millisecond),
		kgo.RebalanceTimeout(10 * time.Second),
		kgo.HeartbeatInterval(300 * time.Millisecond),
	}
	if mode == "exact" {
		opts = append(opts, kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	store, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: env("AWS_ENDPOINT_URL_S3"), Bucket: env("TICKFLOW_BUCKET"),
		Region: env("AWS_REGION"), AccessKey: env("AWS_ACCESS_KEY_ID"), SecretKey: env("AWS_SECRET_ACCESS_KEY"), MaxAttempts: 10})
	if err != nil {
		return err
	}
	prefix := env("TICKFLOW_PREFIX")
	count := 0
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			if mode == "exact" {
				cl.AllowRebalance() // or Close waits for a rebalance it blocks
			}
			break
		}
		var perr error
		fs.EachRecord(func(r *kgo.Record) {
			if perr != nil {
				return
			}
			key := fmt.Sprintf("%sstock_market_%d.json", prefix, count)
			if mode == "exact" {
				key = fmt.Sprintf("%s%s/%d/%020d.json", prefix, r.Topic, r.Partition, r.Offset)
			}
			count++
			body := r.Value
			if format == "psv" {
				var tk struct {
					Symbol string
					Close  float64
					Volume json.Number
				}
				if err := json.Unmarshal(r.Value, &tk); err != nil {
					perr = fmt.Errorf("record %d@%d: %w", r.Partition, r.Offset, err)
					return
				}
				key = strings.TrimSuffix(key, ".json") + ".psv"
				body = fmt.Appendf(nil, "%s|%g|%s\n", tk.Symbol, tk.Close, tk.Volume)
			}
			// A batch polled is finished even after SIGTERM: stopping
			// halfway would commit nothing anyway, finishing is faster.
			for attempt := 0; ; attempt++ {
				pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				perr = store.Put(pctx, key, body, nil)
				cancel()
				if perr == nil || attempt == 50 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
		if perr != nil {
			if mode == "exact" {
				cl.AllowRebalance()
			}
			return fmt.Errorf("put: %w", perr)
		}
		if mode == "exact" {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := cl.CommitUncommittedOffsets(cctx); err != nil {
				fmt.Fprintln(os.Stderr, "consumer: commit:", err)
			}
			cancel()
			cl.AllowRebalance()
		}
	}
	return nil
}
