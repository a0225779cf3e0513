// Package demo runs tickflow's whole pipeline in one process, the library
// behind `tickflow demo`: an embedded world (3 Kafka brokers and S3 on
// loopback), the stock-tick producer, K exactly-once sink consumers in one
// group, a condition-based wait until every produced record is in S3, and an
// independent reconciliation that reads the lake back (harness/lake Check:
// contract rules, crawler prediction, offset coverage).
//
//	sum, err := demo.Run(ctx, demo.Config{}, nil) // the embedded HSI sample, 2 consumers, Parquet
//	if errors.Is(err, demo.ErrFailed) { ... }    // the run finished but the lake is not right: sum.Problems says why
//	if err != nil { ... }                        // it could not run (bad config, ctx cancelled, world did not start)
//	sum.WriteText(os.Stdout)
//
// Run succeeds (nil error) only when the lake holds exactly the produced
// records, each once (no duplicate (kafka_partition, kafka_offset)), the
// objects tile every partition's offsets from 0 to its end offset, and the
// lake has no contract violation. The summary's numbers come from reading
// the lake, not from the sink's counters; the sink's counters are shown
// alongside (consumed, DLQ, per consumer) for information.
//
// The package never links DuckDB, so it stays cgo-free; the CLI runs the
// sample Athena-style query itself from Config.Hold, while the world is up.
package demo
