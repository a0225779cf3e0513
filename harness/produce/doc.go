// Package produce turns stock ticks into Kafka records: it reads the seed
// project's CSV (and the raw TSV variant), generates deterministic synthetic
// ticks, and produces them idempotently with acks=all, keyed by symbol, as
// JSON values with the lake's column names (tick.Tick). It only speaks the
// Kafka protocol, so it runs unchanged against real Kafka.
//
//	src, err := produce.NewCSV(bytes.NewReader(tickflow.SampleCSV), "indexProcessed-HSI.csv")
//	p, err := produce.New(ctx, []string{"127.0.0.1:9092"}, produce.Rate(1000))
//	defer p.Close()
//	res, err := p.Produce(ctx, src) // res.Produced, res.Skipped
//
// Bad input rows are reported with file, line, problem and fix, skipped and
// counted (CSV.BadRows, Result.Skipped); Strict makes the first one fatal.
// Record timestamps are Kafka CreateTime (produce time): the sink's dt/hour
// folders come from them.
package produce
