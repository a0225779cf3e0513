// Package sink is tickflow's exactly-once Kafka → S3 sink: a consumer group
// member that turns stock-tick records into lake objects (Parquet by
// default, JSON Lines optionally) under
//
//	<prefix>/stock_ticks/dt=YYYY-MM-DD/hour=HH/<topic>+<partition>+<start %020d>.<ext>
//
// with dt/hour from the record timestamp in UTC. It speaks only the Kafka
// protocol and the objstore.Store seam, so it runs unchanged against real
// Kafka and real S3.
//
//	st, _ := objstore.NewS3(ctx, objstore.S3Config{Endpoint: url, Bucket: "lake"})
//	s, err := sink.New(ctx, []string{"127.0.0.1:9092"}, st, sink.FlushInterval(2*time.Second))
//	err = s.Run(ctx) // until ctx is cancelled; flushes and commits on the way out
//
// # Objects
//
// Each object covers a contiguous offset range [start, end) of one Kafka
// partition; the next object of that partition starts exactly at end, so
// the ranges tile the partition. Its user metadata (MetaStartOffset,
// MetaEndOffset — exclusive —, MetaRecords, MetaDLQ, MetaFormat, MetaTopic,
// MetaPartition) lets a checker prove the tiling: end-start = rows +
// dead-lettered records + offsets Kafka never delivered (transaction
// markers). All rows of an object share one dt/hour folder.
//
// # Exactly once: the argument
//
//  1. Commit after upload. A partition's offset is committed (synchronously,
//     exactly the end of its last object) only after every object up to it
//     is in the store, and dead letters of the range are acknowledged. So
//     every committed offset is covered by objects in S3 — or is a dead
//     letter of a carried range (see Poison records): a commit may be ahead
//     of the last object's end only by acknowledged dead letters, and then
//     its metadata (CarryMetadata) names where that range starts.
//
//  2. Deterministic names. An object is named by its start offset, and its
//     start is always the previous object's end (or the reconciled resume
//     point). A retried or repeated upload of a range therefore overwrites
//     the same key instead of adding a second copy.
//
//  3. Deterministic cuts where possible. An object ends when the record
//     hour changes, after FlushRecords records, or after FlushBytes of
//     record values: all functions of the log itself, so two writers that
//     start at the same offset cut at the same offsets and write the same
//     keys with the same content. Only FlushInterval (wall clock), shutdown
//     and revocation cut elsewhere — and those only happen in the member
//     that owns the partition.
//
//  4. Reconcile on assignment. Before consuming a partition the new owner
//     lists its objects and walks the chain from the committed offset c: if
//     an object straddles c it resumes at that object's end; then it follows
//     object start → end links (a crash between upload and commit leaves
//     exactly such a chain) and resumes at the chain's end. Every other
//     object starting at or after c is off the chain (a dead writer's
//     different cut) and is deleted, so it cannot overlap what comes next.
//     Offsets below the resume point are never written again; offsets at or
//     above it are not in the lake. Hence no overlap and no gap. If the
//     commit carries a range [s, c) of dead letters and no object reaches
//     past c, the new owner resumes at c with an open segment that starts
//     at s and counts those dead letters, so the next object is named s
//     and the chain has no gap at s. (If an object does reach past c, it
//     covers the carried range already and step 1 resumes after it.)
//
//  5. Fencing zombies. Before uploading, a member commits the start offsets
//     of what it is about to upload (a no-op for the lake). The group
//     coordinator refuses that commit from a member it has evicted, so an
//     evicted member (a "zombie", e.g. one paused past its session timeout)
//     drops its buffers and uploads nothing. The fence re-commits what is
//     committed, carried range included, so it never moves a commit back.
//     Cooperative rebalancing with
//     BlockRebalanceOnPoll means a live member finishes its upload and commit
//     before it gives a partition up, and the next owner only starts after.
//
//  6. The pipeline keeps all of this. The poll loop decodes (partitions in
//     parallel) and seals segments; it hands each poll's sealed segments to
//     one flusher goroutine as a batch, in order, through a bounded queue,
//     and keeps polling. The flusher runs batches strictly one after the
//     other — fence, uploads (in parallel), then commit — so when it fences
//     a batch every earlier batch is uploaded and committed: the fence and
//     the commit see exactly what a sequential sink would (1, 5). A
//     partition's commit is the end of its last object in the batch, and
//     all its objects of that batch and of every earlier batch have landed
//     by then (1). A revocation, shutdown or loss first waits for the
//     queue to drain (revoke, shutdown) or makes its segments stale: every
//     segment carries its partition's generation, bumped on assignment and
//     on a refused fence, and the flusher skips stale ones, so nothing of a
//     partition this member lost is uploaded after the loss is known (5).
//     A refused fence rewinds the partition in the poll loop, which drops
//     what it already fetched of it. Encoding is not ordered: a batch's
//     segments start encoding (up to GOMAXPROCS at a time) when the poll
//     loop hands the batch over, ahead of the flusher. That only turns
//     sealed rows into object bodies, touching neither S3 nor Kafka; the
//     flusher waits for a body before it uploads it, so the order of
//     fences, uploads and commits above is unchanged.
//
// Residual risk, stated plainly: a member that passes the fence and then
// stalls for longer than the session timeout before its PUT lands can still
// overwrite a key with a differently-cut object after the new owner moved on.
// S3 has no fencing token to close that window; keep CallTimeout × Retry
// attempts below the session timeout to make it small, and verify the lake
// (tickflow verify checks the tiling).
//
// # Poison records
//
// A value that is not tick JSON, has no symbol or has an invalid trade_date
// is produced to <topic>.dlq with headers HeaderError, HeaderTopic,
// HeaderPartition, HeaderOffset, counted (Stats.DLQ) and its offset stays
// inside the range of the object that follows it (MetaDLQ counts it). A
// range that holds only dead letters is not written as an empty file: it
// is carried into the next object. So that a partition that ends in dead
// letters still drains (lag 0), once they are acknowledged — after
// FlushInterval at the latest, and at shutdown or revocation — the sink
// commits past them with CarryMetadata(start, dlq) as the offset-commit
// metadata; a new owner reads it back when it reconciles. The dead letter
// carries the time it was produced as its timestamp (the source record's
// is in HeaderTimestamp), so records older than the producer's delivery
// timeout can still be dead-lettered. Dead letters are at-least-once: after
// a crash the same record may be dead-lettered again (dedupe by the
// headers).
//
// # Memory
//
// Buffers are per partition and bounded by FlushRecords/FlushBytes; sealed
// segments wait for upload in at most three batches (two queued, one
// uploading; a full queue stops polling), mostly as encoded object bodies
// (a segment's rows are released once it is encoded). Memory is
// thresholds × assigned partitions, not data volume.
package sink
