// Package scenarios runs named fault scenarios against tickflow's pipeline
// and proves, by reading the lake back, that no record was lost or written
// twice. A scenario is: world set-up (broker.Start) → load (the producer's
// seeded synthetic ticks) → a seeded fault schedule (sink crashes, broker
// stops, leader moves, rebalances, S3 errors, poison records, …) → drain →
// invariants.
//
//	res := scenarios.Run(ctx, "sink-crash-mid-flush", scenarios.Config{Seed: 7})
//	if !res.Pass { fmt.Println(res.Failures, "replay with seed", res.Seed) }
//
// # Invariants
//
// They are checked against what is in S3 and Kafka after the drain, never
// against the sink's own counters:
//
//   - every produced record appears exactly once: each synthetic tick
//     carries a unique sequence number in its volume column, so a lost or
//     repeated record (also one the producer wrote twice) is visible;
//   - per Kafka partition the objects' offset ranges (name + S3 metadata)
//     tile [0, end) with no overlap and no gap, and every offset is either a
//     row or a record found in the <topic>.dlq dead-letter topic;
//   - the group's committed offset equals the end of the partition's last
//     object, or is ahead of it only by dead-lettered offsets (a range of
//     dead letters the sink committed with its start in the commit
//     metadata, to be counted by the next object);
//   - the order of records per key (symbol) within a partition is the
//     produce order;
//   - the lake passes harness/lake's contract check (lake.Check with
//     ExpectRecords);
//   - the dead-letter topic holds exactly the poison records injected.
//
// Randomness (crash points, fault shares, brokers to stop) comes from
// Config.Seed, which every Result carries, so a failure replays with the
// same seed. Timing still varies between runs (goroutine scheduling, kfake's
// own leader choice), which is the point: the invariants must hold for every
// interleaving.
package scenarios
