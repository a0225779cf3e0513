// Package examples shows tickflow's harness in the hands of a user: each
// sub-package is a piece of "your" code with its own go test that runs it
// against a harness world, faults included.
//
//   - myconsumer: your consumer group member that computes per-symbol highs;
//     its test stops a broker and moves leaders while it consumes.
//   - myproducer: your producer that publishes ticks; its test answers
//     produce requests with NOT_LEADER_FOR_PARTITION and moves leaders, then
//     proves nothing was lost or duplicated, down to the lake.
//
// They run with `make test` like every other package.
//
// Consumers that are programs of their own, for `tickflow scenario run
// --consumer 'CMD'` (see python/README.md):
//
//   - python/seed_consumer.py: the negative control, the pipeline's original
//     20-line kafka-python consumer (auto-commit, counter-named objects); it
//     loses records when killed.
//   - python/consumer.py: the same job done right (commit after the PUTs,
//     one object per record keyed by topic/partition/offset).
//   - python/confluent_consumer.py: the same on confluent-kafka (librdkafka),
//     with on_assign/on_revoke/on_lost fencing the batch in hand.
//   - node/consumer.js: the same on kafkajs and the AWS SDK for JavaScript
//     v3 (`npm ci` in examples/node first).
//   - goconsumer: python/consumer.py in Go (franz-go, aws-sdk-go-v2), built
//     with `go build ./examples/goconsumer`.
package examples
