// Package bench measures tickflow's sink against what the same machine can
// do in the same run: it starts the embedded world (broker.Start), produces
// N synthetic ticks once and measures, over that data,
//
//   - ceiling: a raw kgo consumer group that polls and discards;
//   - decode: the same plus the sink's tick decode (goccy/go-json, tick.RowFrom);
//   - sink: the real sink end to end (consume, decode, encode, upload to the
//     fake S3, commit), timed from the first record to the last commit;
//   - seed: the seed project's consumer, one S3 PUT per record
//     (stock_market_{count}.json), on a sample, extrapolated;
//   - consumer (with the Consumer option): a program of the user's, any
//     language, run as OS processes over the same records until its group
//     has committed every partition's end (or, if it never commits, every
//     record is in its objects), timed from its first fetch; ratios to the
//     ceiling and the sink, time to first object, peak RSS and CPU of its
//     process groups (see ConsumerStat);
//   - latency: the sink while a producer runs at a fraction of the sink's
//     rate, from each record's Kafka timestamp to the return of its
//     object's PUT (p50/p95/p99/max);
//   - memory: peak heap above a pre-run baseline, peak RSS and allocations
//     per record of the sink over N and 4×N records, in a world that keeps
//     its data on disk so the heap is the clients', not the data's.
//
// Each throughput phase runs several times with a fresh consumer group;
// the report has the best and median of each, ratios to the ceiling and to
// the decode phase, the sink/seed ratio, and the targets met or missed.
// Targets are reported, never enforced.
//
//	rep, err := bench.Run(ctx, bench.Records(200_000), bench.Runs(3))
//	if err != nil { ... }
//	rep.WriteTable(os.Stdout) // or json.Marshal(rep), rep.WriteSVG(f)
//
// `tickflow bench` is this package behind flags; `make bench` runs it with
// the defaults.
package bench
