#!/usr/bin/env node
// consumer.js: a Kafka -> S3 consumer on kafkajs and the AWS SDK for
// JavaScript v3 that neither loses nor duplicates records. The same job and
// the same rules as examples/python/consumer.py: one JSON document per
// object, written so that kill -9, SIGTERM, SIGSTOP, rebalances and S3
// outages cannot lose or duplicate a record.
//
//   * Object keys depend only on the record: {prefix}{topic}/{partition}/
//     {offset, 20 digits}.json. A record written twice (after a crash, a
//     rebalance, or by a frozen member waking up late) rewrites the same key
//     with the same bytes, so the lake still holds it once.
//   * autoCommit: false and eachBatchAutoResolve: false. Each batch (one
//     partition's fetch) is written in chunks of 250 records, each chunk's
//     PUTs in parallel; only after every PUT of a chunk succeeded is its last
//     offset resolved and committed (resolveOffset, then
//     commitOffsetsIfNecessary with the resolved offsets: with autoCommit off
//     and no offsets it would commit nothing). A crash at any point leaves
//     the committed offsets at or behind the lake.
//   * Fencing: a chunk heartbeats while its PUTs run. UNKNOWN_MEMBER_ID or
//     ILLEGAL_GENERATION (this member was dropped: frozen, or cut off) means
//     no commit; REBALANCE_IN_PROGRESS commits what was written; either way
//     the error goes back to kafkajs, which rejoins. Every batch of that
//     membership stops issuing PUTs at once (a rebalance waits for this
//     member no longer than the PUTs in flight take) and commits, on
//     REBALANCE_IN_PROGRESS, the records written before the stop. A batch that was still
//     being written when kafkajs rejoined (it does not wait for every
//     worker) does not commit under the new generation. The new owner
//     re-reads from the last commit and rewrites the same keys with the same
//     bytes, so a zombie's late PUT duplicates nothing.
//   * S3 errors (500, 503, timeouts, refused connections) are retried with
//     backoff until they succeed, or until SIGTERM: then the batch is
//     abandoned uncommitted.
//   * SIGTERM/SIGINT: consumer.disconnect() lets the chunks in hand finish
//     and commit, leaves the group, exit 0.
//   * Values are written as-is (bytes unchanged). A value that is not a JSON
//     object (a poison record) goes to {prefix}_rejected/{topic}/{partition}/
//     {offset} (a folder Athena and tickflow's verdict skip) and is logged.
//   * A kafkajs crash it will not restart from exits 1: the supervisor
//     (systemd, Kubernetes, tickflow) restarts the process.
//
// Environment: KAFKA_BOOTSTRAP_SERVERS, KAFKA_TOPIC, KAFKA_GROUP_ID,
// AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, TICKFLOW_BUCKET, TICKFLOW_PREFIX,
// TICKFLOW_INSTANCE (log lines), AWS_REGION or AWS_DEFAULT_REGION,
// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (the SDK's default chain),
// KAFKA_SESSION_TIMEOUT_MS; CONSUMER_WORKERS (parallel PUTs per batch,
// default 16), CONSUMER_PARTITIONS_CONCURRENTLY (batches at once, default 3),
// CONSUMER_MAX_BATCH_RECORDS (records per chunk, default 250).
//
// CONSUMER_BUG=commit-before-put makes it the negative control: it commits a
// chunk's offsets before PUTting it ("commit, then write"), the bug
// kill-after-commit catches. The interop tests use it to check that the
// verdict counts the loss exactly.
//
// Run `npm ci` in this folder once, then `node consumer.js`.
'use strict'

// The pinned SDK runs on node 20 (package.json engines); its notice that
// later releases will need node 22 is said once in examples/python/README.md,
// not in every instance log.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

const { Kafka, logLevel } = require('kafkajs')
const { S3Client, PutObjectCommand } = require('@aws-sdk/client-s3')

const env = process.env
const INSTANCE = env.TICKFLOW_INSTANCE || '0'

function log(msg) {
  process.stderr.write(`node-consumer[${INSTANCE}] ${new Date().toISOString().slice(11, 19)} ${msg}\n`)
}

const topic = env.KAFKA_TOPIC
const groupId = env.KAFKA_GROUP_ID
const bucket = env.TICKFLOW_BUCKET
const prefix = env.TICKFLOW_PREFIX || ''
const workers = parseInt(env.CONSUMER_WORKERS || '16', 10)
const concurrently = parseInt(env.CONSUMER_PARTITIONS_CONCURRENTLY || '3', 10)
const chunk = parseInt(env.CONSUMER_MAX_BATCH_RECORDS || '250', 10)
const bug = env.CONSUMER_BUG || ''
if (bug !== '' && bug !== 'commit-before-put') {
  log(`unknown CONSUMER_BUG ${JSON.stringify(bug)}`)
  process.exit(2)
}
// The SDK reads AWS_ENDPOINT_URL_S3 itself too; passing it makes the
// example work with older SDKs and say in its log where it writes.
const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL
const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1'

const s3 = new S3Client({
  endpoint,
  region,
  forcePathStyle: true, // an IP endpoint has no bucket subdomains
  maxAttempts: 3, // the SDK's own retries; putWithRetry retries until stopped
  requestHandler: { connectionTimeout: 5000, requestTimeout: 30000 },
})

const sessionTimeout = parseInt(env.KAFKA_SESSION_TIMEOUT_MS || '30000', 10)
const heartbeatInterval = Math.max(100, Math.min(3000, Math.floor(sessionTimeout / 3)))

const kafka = new Kafka({
  clientId: `tickflow-node-example-${INSTANCE}`,
  brokers: env.KAFKA_BOOTSTRAP_SERVERS.split(','),
  logLevel: logLevel.WARN,
})
const consumer = kafka.consumer({
  groupId,
  sessionTimeout,
  heartbeatInterval,
  maxWaitTimeInMs: 1000,
  metadataMaxAge: 10000, // new partitions are seen within 10 s, not kafkajs's 5 min
})

let stopping = false
let written = 0

function objectKey(partition, offset, row) {
  const off = String(offset).padStart(20, '0')
  return row ? `${prefix}${topic}/${partition}/${off}.json` : `${prefix}_rejected/${topic}/${partition}/${off}`
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

function isJSONObject(value) {
  if (!value) return false
  try {
    const v = JSON.parse(utf8.decode(value))
    return v !== null && typeof v === 'object' && !Array.isArray(v)
  } catch (e) {
    return false
  }
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// putWithRetry PUTs one object, retrying every error with capped
// exponential backoff. It resolves true once the PUT succeeded, false when
// a signal asked to stop while it was failing. A retried PUT may land
// twice: harmless, same key and same bytes.
async function putWithRetry(key, body) {
  let delay = 100
  for (let attempt = 1; ; attempt++) {
    try {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }))
      if (attempt > 1) log(`PUT ${key} succeeded after ${attempt} attempts`)
      return true
    } catch (e) {
      if (stopping) {
        log(`PUT ${key} failed while stopping, abandoning the batch: ${e.name}: ${e.message}`)
        return false
      }
      if (attempt === 1 || attempt % 10 === 0) {
        log(`PUT ${key} failed (attempt ${attempt}), retrying in ${delay / 1000}s: ${e.name}: ${e.message}`)
      }
      await sleep(delay)
      delay = Math.min(delay * 2, 5000)
    }
  }
}

// mapLimit runs fn over items in order with at most n calls in flight, and
// starts no new call once stop() says so. It returns the results of the
// calls it started: those of items[0 .. results.length-1].
async function mapLimit(items, n, fn, stop) {
  const results = []
  let next = 0
  const worker = async () => {
    while (next < items.length && !stop()) {
      const i = next++
      results[i] = await fn(items[i])
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker))
  return results
}

// joins counts the group joins of this process (GROUP_JOIN events). A batch
// remembers the join it was fetched in: kafkajs can rejoin while another
// worker's batch is still being written (a failed batch ends its fetchers
// at once, not the other workers' eachBatch calls), and such a batch must
// not commit under the new generation for a partition that may have moved.
let joins = 0

// Errors that say the group moved on: the batch in hand must not commit
// (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION: the broker would refuse it anyway).
// REBALANCE_IN_PROGRESS still lets the current generation commit what it
// has written, as Kafka's own clients do before they rejoin.
const fencing = new Set(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID'])

// fenced is the fencing error the latest join has seen, if any: once one
// batch has seen it, the other batches of that join stop before their next
// chunk instead of writing for partitions that are moving.
let fenced = null

async function eachBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, uncommittedOffsets, isRunning, isStale }) {
  const { partition, messages } = batch
  const join = joins
  const fence = e => {
    if (join === joins && !fenced && e && fencing.has(e.type)) fenced = e
  }
  // Heartbeat while the PUTs run: a slow S3 must not cost the membership,
  // and what it answers fences the batch.
  const beat = async () => {
    try {
      await heartbeat()
    } catch (e) {
      fence(e)
    }
  }

  // A fetch can return a partition's whole backlog (thousands of records):
  // write and commit it in chunks, and stop a chunk early on a fence, a
  // rebalance or SIGTERM, committing the records written before the stop.
  for (let i = 0; i < messages.length; i += chunk) {
    if (!isRunning() || isStale()) return // stopping, or the position moved: what is written is committed
    if (join !== joins) return // rejoined meanwhile: this batch belongs to an older generation
    if (fenced) throw fenced // kafkajs rejoins the group
    const part = messages.slice(i, i + chunk)
    if (bug === 'commit-before-put') {
      // The bug: a kill between this commit and the PUTs loses the chunk.
      resolveOffset(part[part.length - 1].offset)
      await commitOffsetsIfNecessary(uncommittedOffsets())
    }
    const timer = setInterval(beat, Math.max(100, Math.floor(heartbeatInterval / 2)))
    let ok
    try {
      // A fence or SIGTERM stops the chunk at the PUTs in flight: a
      // rebalance waits for this member no longer than they take.
      ok = await mapLimit(
        part,
        workers,
        async m => {
          const row = isJSONObject(m.value)
          const key = objectKey(partition, m.offset, row)
          if (!row) log(`record ${topic}/${partition}@${m.offset} is not a JSON object, kept under ${key}`)
          return putWithRetry(key, m.value || Buffer.alloc(0))
        },
        () => fenced !== null || !isRunning()
      )
    } finally {
      clearInterval(timer)
    }
    written += ok.length
    if (!ok.every(Boolean)) return // stopping with S3 still failing: nothing resolved, nothing committed
    await beat()
    if (ok.length === 0) {
      if (fenced && join === joins) throw fenced
      return
    }
    const last = part[ok.length - 1].offset // every record up to here is written
    if (join !== joins || isStale() || (fenced && fenced.type !== 'REBALANCE_IN_PROGRESS')) {
      const why = join !== joins ? 'the group was joined again' : isStale() ? 'the batch is stale' : `${fenced.type}: ${fenced.message}`
      log(`partition ${partition}: not committing offsets up to ${last}: ${why}`)
      if (fenced && join === joins) throw fenced
      return
    }
    // Every record up to `last` is in S3: now, and only now, its offset.
    resolveOffset(last)
    try {
      await commitOffsetsIfNecessary(uncommittedOffsets())
    } catch (e) {
      log(`partition ${partition}: commit up to ${last} failed, records will be re-read: ${e.type || e.name}: ${e.message}`)
      fence(e)
      throw e
    }
    if (fenced) throw fenced // committed what it wrote; now rejoin
    if (ok.length < part.length) return // stopping: what is written is committed
  }
}

async function shutdown(signal) {
  if (stopping) return
  stopping = true
  log(`${signal}: finishing the batches in hand, then committing and leaving`)
  try {
    await consumer.disconnect() // waits for eachBatch, then LeaveGroup
  } catch (e) {
    log(`disconnect: ${e.message}`)
  }
  log(`stopped after writing ${written} records`)
  process.exit(0)
}

async function main() {
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))

  const { CRASH, GROUP_JOIN } = consumer.events
  consumer.on(GROUP_JOIN, e => {
    joins++
    fenced = null
    const parts = (e.payload.memberAssignment[topic] || []).slice().sort((a, b) => a - b)
    log(`assigned [${parts.join(', ')}] as ${e.payload.memberId}`)
  })
  consumer.on(CRASH, e => {
    log(`kafkajs crashed: ${e.payload.error && e.payload.error.message} (restart: ${e.payload.restart})`)
    if (!e.payload.restart && !stopping) process.exit(1)
  })

  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  log(`consuming ${topic} as group ${groupId}, writing to s3://${bucket}/${prefix} via ${endpoint}`)
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: concurrently,
    eachBatch,
  })
}

main().catch(e => {
  log(`fatal: ${e.stack || e}`)
  process.exit(1)
})
