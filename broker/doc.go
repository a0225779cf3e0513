// Package broker is tickflow's embedded world: a multi-broker fake Kafka
// (franz-go kfake) and a fake S3 (gofakes3) on 127.0.0.1, plus the
// Coordinator, the ZooKeeper-free owner of cluster state and of every fault
// knob (stop/restart a broker, move leaders, add partitions, fail or delay
// Kafka requests by API key, fail, slow or hang S3 calls).
//
// The smallest use:
//
//	w, err := broker.Start(ctx) // 3 brokers, topic "stock-ticks" (6 partitions), bucket "tickflow-lake"
//	if err != nil { ... }
//	defer w.Close()
//	cl, _ := kgo.NewClient(kgo.SeedBrokers(w.KafkaAddrs()...))
//	s3cfg := objstore.S3Config{Endpoint: w.S3Endpoint(), Bucket: w.Bucket(),
//		Region: w.Region(), AccessKey: broker.AccessKey, SecretKey: broker.SecretKey}
//
// Limits, stated plainly: kfake has no real replication. Every partition
// lives once, in the process; a "failover" (StopBroker, MoveLeader,
// ShuffleLeaders) moves leadership only and can neither lose nor duplicate
// acknowledged records. The controller broker (the highest id) cannot be
// stopped, because kfake cannot elect a new one. Clients should use
// kgo.MetadataMinAge(100*time.Millisecond) or they notice leader moves only
// after kgo's default 5 s metadata age. Leaders chosen by StopBroker,
// RestartBroker and ShuffleLeaders come from kfake's unseeded random
// choice; use MoveLeader where a scenario needs an exact layout.
//
// Like a stock Kafka broker the world auto-creates a topic on first use,
// for old clients (Metadata v0–v3, e.g. kafka-python 2.0.2) too. The fake S3
// answers operations gofakes3 cannot do safely (object tagging, object
// attributes, ACLs, bucket policies, ...) with 501 NotImplemented instead of
// corrupting data.
//
// Security, as the real services do it: the fake S3 checks AWS Signature V4
// (header and presigned forms, payload hashes, signed aws-chunked uploads)
// against AccessKey/SecretKey and DefaultRegion unless S3Auth(false), and
// answers conditional writes (If-None-Match: *, If-Match) on PutObject,
// CopyObject and CompleteMultipartUpload atomically per key, as AWS does.
// KafkaTLS and KafkaSASL make the brokers require TLS (a generated CA,
// TLSFiles) and SASL PLAIN/SCRAM; KafkaClientOptions gives a kgo client
// what it needs to connect.
package broker
