// Package harness is tickflow's test helper: one call in a Go test starts a
// whole Kafka + S3 world in milliseconds, like net/http/httptest does for an
// HTTP server, and t.Cleanup tears it down.
//
//	w := harness.Start(t)                   // 3 brokers, topic stock-ticks (6 partitions), bucket
//	produced := w.ProduceSynthetic(t, 1000, 42)
//	w.StartSink(t)                          // tickflow's exactly-once S3 sink, in the test
//	w.WaitCaughtUp(t, harness.SinkGroup, 30*time.Second)
//	w.Lake(t).RequireComplete(produced)     // every record exactly once, or a list of what is not
//
// Test your own code against the world: w.KafkaAddrs() or w.KafkaClient(t)
// for Kafka, w.S3Endpoint() or w.S3Client(t) for S3, and w.Faults() to stop
// brokers, move leaders or fail Kafka and S3 requests while it runs. The
// Lake assertions (RequireComplete, RequireContractClean, RequireRows)
// report what is wrong by partition/offset and contract rule.
//
// Worlds are independent: each binds random 127.0.0.1 ports and holds no
// global state, so tests may run worlds with t.Parallel() and -count. At
// cleanup every goroutine a world started (its brokers, its S3 server, its
// sinks and clients) must have ended, or the test fails with their stacks.
//
// The fakes are franz-go's kfake and gofakes3: kfake has no replication, so
// a stopped broker or a moved leader tests your client's retries and
// rebalances, never data loss inside Kafka. Importing harness does not link
// DuckDB or need cgo (SQL over a lake is in harness/lake/query).
package harness
