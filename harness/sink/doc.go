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
// markers). All rows of an object share one dt/hour folder. MetaBytes
// records the object's size: an object found at a key (a 412, or a
// listing) is adopted only if its Content-Length matches and its counts fit
// its range (checkWhole).
//
// # Records
//
// A record value is tick JSON (tick.Decode; the seed project's CSV-row JSON
// too, tick.DecodeSeed). One without a symbol or a valid trade_date, or
// that is not JSON, goes to the dead-letter topic <topic>.dlq. A value
// field the record does not carry (key absent or null) is NULL in the lake
// — an OPTIONAL Parquet column without a value, null in JSON Lines — never
// an invented 0, so Athena's avg(open) and count(open) skip it; a 0 the
// record says stays 0. Keys that are not lake columns are ignored and
// counted (Stats.UnknownFields), with one warning naming a record that has
// them.
//
// # Exactly once: the argument
//
// Two members can own a partition at the same time: in every rolling
// deploy, and whenever a member freezes (GC pause, VM stall, SIGSTOP) past
// its session timeout while a PUT is on its way. A PUT can also land
// arbitrarily late (a proxy or a stalled host holds a fully sent request).
// The argument below does not depend on any timing.
//
//  1. Commit after upload. A partition's offset is committed exactly at the
//     end of an object only after that object is in the store (and the dead
//     letters of its range are acknowledged). A commit may be ahead of the
//     last object's end only by a carried range of dead letters or expired
//     offsets, named in its metadata (CommitMeta).
//
//  2. Deterministic names. An object is named by its start offset, and its
//     start is always the previous object's end (or the reconciled resume
//     point): a retry writes the same key.
//
//  3. One uncommitted object per partition, at the committed offset. The
//     flusher writes a partition's objects one after the other (wave k
//     uploads the k-th object of every partition, in parallel across
//     partitions) and commits each object's end before the next object of
//     that partition is written. So at any time the only object of a
//     partition that can be in S3 (or on its way) without being committed
//     starts exactly at the committed offset c (or at the carried range's
//     start): the key K(c).
//
//  4. Conditional writes are the fencing token. Every object is written
//     with If-None-Match: * (S3 conditional writes). The next owner starts
//     from c, so the first object it writes has key K(c) too: the same first
//     record, so the same hour folder. Whichever PUT reaches S3 first wins;
//     the other gets 412 PreconditionFailed, reads the winner's metadata and
//     either finds the same range (its own earlier attempt landed: done), or
//     adopts the winner's object, commits its end and reads on from there
//     (dropping what it buffered of the partition). A late PUT of a member
//     that lost the partition therefore either lands first and is adopted,
//     or is refused: it can never overwrite an object or add an overlapping
//     one. A member writes K(x) only after its own commit of x succeeded
//     (or x was the committed offset when it was assigned), and the group
//     refuses commits from evicted members, so no member ever writes a key
//     that is not the head of the committed chain.
//
//     The fence is an assumption about the store: with
//     ProveConditionalWrites (always on in `tickflow sink`) New writes a
//     probe object twice and refuses a store that lets the second
//     If-None-Match: * write through (ErrNoConditionalWrites).
//
//  5. Ownership checked before every side effect. Each PUT, commit and
//     DELETE happens only while this member owns the partition in the
//     generation that produced the data. Commits hold a lock from that check
//     until the broker answered; revocation and loss take it before they
//     forget a partition, so no commit names a partition after the member
//     let it go (the group coordinator does not check partition ownership,
//     only membership). Shutdown, revocation and the poll loop hand their
//     data to one flusher through one queue, and revocation waits until the
//     queue is empty and committed (for at most two thirds of the
//     rebalance timeout) before the partition moves on. A commit Kafka
//     refuses for now (REBALANCE_IN_PROGRESS, a coordinator moving) is
//     retried; one finally refused is reported when Run stops
//     (ErrUncommitted), so a stop is clean only if everything read was
//     committed. Loss invalidates queued data at once; an upload already
//     on its way may still land, which point 4 makes harmless.
//
//  6. Resume without listing. The commit metadata (CommitMeta) records the
//     next object's start, the carried range, the topic ID and the last
//     object's key. A new owner that finds it resumes at the commit with no
//     S3 call: by point 3 at most one object past the commit can exist, and
//     point 4 finds it when the owner writes its first object. Only a
//     partition without such metadata (nothing committed, or committed by
//     an older tickflow) is reconciled from a listing of the table: follow
//     uploaded-but-uncommitted chains from the commit, delete off-chain
//     objects an older writer left. Each DELETE waits until the group
//     coordinator confirms that this member, in the session that listed,
//     still owns the partition and nobody committed it since (stillOwns),
//     and carries If-Match with the ETag the listing saw, so a late DELETE
//     cannot remove what the next owner wrote under the same key; objects
//     starting below the commit are never deleted, and two of them with
//     one start stop the sink (ErrDuplicateStart). The work per assignment
//     is constant, not proportional to the lake (BenchmarkReconcile).
//
//  7. Deterministic cuts where possible. An object ends when the record
//     hour changes, after FlushRecords records, or after FlushBytes of
//     record values; FlushInterval, shutdown and revocation cut elsewhere.
//     Different cuts by two owners are safe by point 4; equal cuts make the
//     412 case a no-op.
//
//  8. Incarnations and retention. Objects carry the topic ID
//     (MetaTopicID). A topic that was deleted and re-created restarts its
//     offsets at zero: the sink never adopts an object of the old
//     incarnation, it stops with an error naming the key and asking to move
//     the old objects away, and a commit of the old incarnation is ignored.
//     Offsets that retention removed before the sink read them are counted
//     in the next object's MetaExpired (and Stats.Expired, and a warning),
//     so the lake still tiles and a checker reports them as expired rather
//     than delivered; with nothing committed, from the lake's end. The
//     topic ID is read from the brokers at every assignment (ErrTopicID if
//     it cannot be); a topic re-created under a running sink stops it
//     (ErrTopicRecreated). Commits carry the leader epoch of the record at
//     their offset and a partition resumes with it, so a log truncated
//     below what was read (kgo.ErrDataLoss, or an offset above the end)
//     stops the sink with ErrTruncated instead of skipping the rewritten
//     records as already in the lake.
//
//  9. The pipeline keeps all of this. The poll loop decodes (partitions in
//     parallel) and seals segments; it hands each poll's sealed segments to
//     the flusher as a batch, in order, through a bounded queue, and keeps
//     polling. Encoding starts when a batch is handed over (up to
//     GOMAXPROCS at a time) and touches neither S3 nor Kafka, so the order
//     of uploads and commits above is unchanged.
//
// Timeouts fit together: the group's rebalance timeout is short
// (DefaultRebalanceTimeout, 15s), because the coordinator waits that long
// for a member that joined a rebalance and was killed before it synced, and
// the whole group waits with it. A revocation therefore waits at most two
// thirds of it for the revoked partitions' uploads and commits, then lets
// them go with an upload possibly still on its way: that upload's key is
// the committed offset's, the next owner's first key, so point 4 decides
// (TestRevocationDoesNotWaitForAHungUpload). Handing work to the flusher
// never waits, so a hung S3 stops polling, not rejoining: the poll loop
// waits for room in the queue before it polls, while rebalances are
// allowed (TestRejoinWhileUploadsHang); a commit attempt, which a rejoin
// waits for, is bounded by a quarter of the rebalance timeout. The budgets
// follow the rebalance timeout the Kafka client really uses
// (TestTimeoutsFitTogether). A crashed member's partitions
// move within the session timeout plus one short rebalance. The session
// timeout only decides how fast a dead member's partitions move; safety
// does not depend on it. The scenarios zombie-sink, hung-put and
// rolling-restart-slow-s3 attack points 3–5 with real processes (SIGSTOP,
// SIGKILL, PUTs held at a proxy and landing late) and read the lake back.
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
// uploading; a full queue stops polling, and a revocation or shutdown adds
// its last batch without waiting), mostly as encoded object bodies
// (a segment's rows are released once it is encoded). Memory is
// thresholds × assigned partitions, not data volume.
package sink
