package broker_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/aws/smithy-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tickflow/tickflow/broker"
	"github.com/tickflow/tickflow/harness/objstore"
)

// A world whose brokers require TLS and SCRAM, as Amazon MSK's SASL/SCRAM
// listener does: KafkaClientOptions carries the generated CA and the login.
func ExampleKafkaSASL() {
	ctx := context.Background()
	w, err := broker.Start(ctx, broker.Brokers(1), broker.KafkaTLS(""),
		broker.KafkaSASL(broker.SASLScramSHA512, "alice", "s3cret"))
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()

	cl, err := kgo.NewClient(append(w.KafkaClientOptions(), kgo.SeedBrokers(w.KafkaAddrs()...))...)
	if err != nil {
		log.Fatal(err)
	}
	defer cl.Close()
	res := cl.ProduceSync(ctx, &kgo.Record{Topic: broker.DefaultTopic, Value: []byte("tick")})
	fmt.Println("produced over TLS + SCRAM-SHA-512:", res.FirstErr() == nil)
	_, ok := w.TLSFiles()
	fmt.Println("CA file written:", ok)
	// Output:
	// produced over TLS + SCRAM-SHA-512: true
	// CA file written: true
}

// The fake S3 checks signatures: only the world's keys work.
func ExampleS3Auth() {
	ctx := context.Background()
	w, err := broker.Start(ctx, broker.Brokers(1)) // S3Auth(true) is the default
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	for _, secret := range []string{"a-wrong-secret", broker.SecretKey} {
		st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: w.S3Endpoint(), Bucket: w.Bucket(),
			AccessKey: broker.AccessKey, SecretKey: secret, MaxAttempts: 1})
		if err != nil {
			log.Fatal(err)
		}
		err = st.Put(ctx, "hello.txt", []byte("hello"), nil)
		var ae smithy.APIError
		if errors.As(err, &ae) {
			fmt.Println(ae.ErrorCode())
		} else {
			fmt.Println("stored:", err == nil)
		}
	}
	// Output:
	// SignatureDoesNotMatch
	// stored: true
}
